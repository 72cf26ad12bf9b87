import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { simulate, type SimulationInput } from "./planner.ts";

const BASE: SimulationInput = { ratePerHour: 360, ahtSeconds: 240, agents: 30, hours: 50, seed: 1 };
const KEYS = ["10", "15", "20", "30", "60"] as const;

describe("simulator", () => {
  it("gives the same output for the same seed, and a different one for another seed", () => {
    expect(simulate(BASE)).toEqual(simulate({ ...BASE }));
    expect(simulate({ ...BASE, seed: 2 }).offered).not.toBe(simulate(BASE).offered);
  });

  it("answers everyone when callers never hang up", () => {
    const r = simulate({ ...BASE, agents: 26 });
    expect(r.abandoned).toBe(0);
    expect(r.answered).toBe(r.offered);
  });

  it("loses callers to impatience, and follows every arrival to an end", () => {
    const patient = simulate({ ...BASE, agents: 25 });
    const impatient = simulate({ ...BASE, agents: 25, patienceSeconds: 60 });
    // Separate random streams: the same callers arrive either way.
    expect(impatient.offered).toBe(patient.offered);
    expect(impatient.abandoned).toBeGreaterThan(0);
    expect(impatient.answered + impatient.abandoned).toBe(impatient.offered);
    expect(impatient.asa_s!).toBeLessThan(patient.asa_s!);
  });

  it("keeps its fractions in range and consistent with each other", () => {
    const r = simulate({ ...BASE, patienceSeconds: 30 });
    const levels = KEYS.map((k) => r.service_level[k]);
    expect(levels.every((x, i) => x >= 0 && x <= 1 && (i === 0 || x >= levels[i - 1]!))).toBe(true);
    // Answered at once is answered within 10 s.
    expect(r.service_level["10"]).toBeGreaterThanOrEqual(1 - r.pw - 1e-12);
    expect(r.occupancy).toBeGreaterThan(0);
    expect(r.occupancy).toBeLessThanOrEqual(1);
  });

  // Long enough runs that the sampling noise (about ±7% on ASA at 2,000 hours, measured over seeds)
  // sits well inside the tolerances.
  for (const agents of [28, 30]) {
    it(`agrees with Erlang C at 360 calls/h, AHT 240 s and ${agents} agents`, () => {
      const r = simulate({ ratePerHour: 360, ahtSeconds: 240, agents, hours: 2000, seed: 7 });
      const e = r.erlang_c;
      expect(Math.abs(r.asa_s! / e.asa_s! - 1)).toBeLessThan(0.15);
      expect(Math.abs(r.pw - e.pw)).toBeLessThan(0.03);
      for (const k of KEYS) expect(Math.abs(r.service_level[k] - e.service_level[k])).toBeLessThan(0.03);
      expect(Math.abs(r.occupancy - e.occupancy)).toBeLessThan(0.01);
    });
  }

  it("rejects inputs it cannot simulate, naming the field", () => {
    const fieldOf = (input: Partial<SimulationInput>) => {
      try {
        simulate({ ...BASE, ...input });
      } catch (err) {
        if (err instanceof Invalid) return err.field;
        throw err;
      }
    };
    expect(fieldOf({ ratePerHour: -1 })).toBe("ratePerHour");
    expect(fieldOf({ ahtSeconds: 0 })).toBe("ahtSeconds");
    expect(fieldOf({ agents: 0 })).toBe("agents");
    expect(fieldOf({ agents: 1.5 })).toBe("agents");
    expect(fieldOf({ hours: NaN })).toBe("hours");
    expect(fieldOf({ patienceSeconds: -5 })).toBe("patienceSeconds");
    expect(fieldOf({ seed: -1 })).toBe("seed");
  });
});

describe("bun run simulate", () => {
  const run = (...args: string[]) => {
    const p = Bun.spawnSync([process.execPath, "scripts/plan-staffing.ts", ...args], { cwd: `${import.meta.dir}/..` });
    return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  };
  const ARGS = ["--rate", "360", "--aht", "240", "--agents", "30", "--hours", "20"];

  it("prints one JSON object with the simulated and the Erlang C figures, the same for the same seed", () => {
    const first = run(...ARGS, "--seed", "7", "--json");
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);
    for (const key of ["offered", "answered", "abandoned", "asa_s", "occupancy"]) expect(typeof r[key]).toBe("number");
    expect(Object.keys(r.service_level).sort()).toEqual([...KEYS].sort());
    expect(Object.keys(r.erlang_c)).toEqual(expect.arrayContaining(["pw", "asa_s", "service_level"]));
    expect(run(...ARGS, "--json", "--seed", "7").stdout).toBe(first.stdout);
    // Seed 1 by default.
    expect(run(...ARGS, "--json").stdout).toBe(run(...ARGS, "--seed", "1", "--json").stdout);
  });

  it("prints a table without --json", () => {
    const r = run(...ARGS, "--patience", "90");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("answered within 20 s");
    expect(r.stdout).toContain("Erlang C");
  });

  it("exits 2 naming the flag for a missing, negative or non-numeric argument", () => {
    const cases: [string[], string][] = [
      [["--aht", "240", "--agents", "30", "--hours", "1"], "--rate"],
      [["--rate", "-5", "--aht", "240", "--agents", "30", "--hours", "1"], "--rate"],
      [["--rate", "360", "--aht", "abc", "--agents", "30", "--hours", "1"], "--aht"],
      [["--rate", "360", "--aht", "240", "--agents", "0", "--hours", "1"], "--agents"],
      [["--rate", "360", "--aht", "240", "--agents", "30", "--hours", "1", "--patience", "-1"], "--patience"],
      [["--rate", "360", "--aht", "240", "--agents", "30", "--hours", "1", "--seed"], "--seed"],
      [["--rate", "360", "--aht", "240", "--agents", "30", "--hours", "1", "--speed", "2"], "--speed"],
    ];
    for (const [args, flag] of cases) {
      const r = run(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(flag);
      expect(r.stdout).toBe("");
    }
  });
});
