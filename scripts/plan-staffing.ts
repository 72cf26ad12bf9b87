import { Invalid } from "../platform/errors.ts";
import { SERVICE_LEVEL_SECONDS } from "../routing/erlang.ts";
import { simulate, type SimulationInput, type SimulationResult } from "../routing/planner.ts";

/**
 * `bun run simulate --rate <arrivals/h> --aht <s> --agents <n> --hours <h> [--patience <s>] [--seed <n>] [--json]`
 *
 * A public contract (scripts outside the project parse it): --json prints exactly one JSON object;
 * a bad argument names its flag on stderr and exits 2; the default seed is 1.
 */

const USAGE =
  "usage: bun run simulate --rate <arrivals per hour> --aht <mean handle seconds> --agents <n> --hours <h> " +
  "[--patience <mean seconds before abandoning; default: none>] [--seed <n>] [--json]";

const FLAG_OF_FIELD: Record<keyof SimulationInput, string> = {
  ratePerHour: "--rate",
  ahtSeconds: "--aht",
  agents: "--agents",
  hours: "--hours",
  patienceSeconds: "--patience",
  seed: "--seed",
};
const FIELD_OF_FLAG = new Map(
  Object.entries(FLAG_OF_FIELD).map(([field, flag]) => [flag, field as keyof SimulationInput]),
);

class UsageError extends Error {}

/** Flags as `--rate 360` or `--rate=360`; what each value may be is checked once, by `simulate`. */
function parseArguments(args: readonly string[]): { input: SimulationInput; json: boolean } {
  const values = new Map<keyof SimulationInput, number>();
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--json") {
      json = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const field = FIELD_OF_FLAG.get(flag);
    if (!field) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    // The next word is the value even if it starts with "-", so "--rate -5" is reported as negative.
    const raw = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (raw === undefined) throw new UsageError(`${flag} needs a value`);
    const value = raw.trim() === "" ? NaN : Number(raw);
    if (Number.isNaN(value)) throw new UsageError(`${flag} must be a number (got ${JSON.stringify(raw)})`);
    values.set(field, value);
  }
  const required = (field: keyof SimulationInput) => {
    const value = values.get(field);
    if (value === undefined) throw new UsageError(`${FLAG_OF_FIELD[field]} is required`);
    return value;
  };
  return {
    input: {
      ratePerHour: required("ratePerHour"),
      ahtSeconds: required("ahtSeconds"),
      agents: required("agents"),
      hours: required("hours"),
      patienceSeconds: values.get("patienceSeconds") ?? null,
      seed: values.get("seed") ?? 1,
    },
    json,
  };
}

function printTable(input: SimulationInput, r: SimulationResult) {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const secs = (x: number | null) => (x === null ? "∞" : `${x.toFixed(1)} s`);
  const rows: [string, string, string][] = [
    ["offered", String(r.offered), ""],
    ["answered", String(r.answered), ""],
    ["abandoned", String(r.abandoned), ""],
    ["waited (Pw)", pct(r.pw), pct(r.erlang_c.pw)],
    ["average speed of answer", secs(r.asa_s), secs(r.erlang_c.asa_s)],
    ...SERVICE_LEVEL_SECONDS.map((s): [string, string, string] => [
      `answered within ${s} s`,
      pct(r.service_level[`${s}`]),
      pct(r.erlang_c.service_level[`${s}`]),
    ]),
    ["occupancy", pct(r.occupancy), pct(r.erlang_c.occupancy)],
  ];
  const patience = input.patienceSeconds == null ? "none" : `${input.patienceSeconds} s`;
  console.log(
    `${input.ratePerHour} arrivals/h, AHT ${input.ahtSeconds} s, ${input.agents} agents, ${input.hours} h, patience ${patience}, seed ${input.seed}`,
  );
  console.log("(Erlang C assumes nobody hangs up)\n");
  const head: [string, string, string] = ["metric", "simulated", "Erlang C"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(" | ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of rows) console.log(line(row));
}

function fail(message: string): never {
  console.error(`simulate: ${message}\n${USAGE}`);
  process.exit(2);
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseArguments(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    throw err;
  }
  let result;
  try {
    result = simulate(parsed.input);
  } catch (err) {
    if (err instanceof Invalid && err.field) {
      // simulate() words its messages with its field names ("agents must be …"); say the flag instead.
      const flag = FLAG_OF_FIELD[err.field as keyof SimulationInput];
      fail(
        err.message.startsWith(`${err.field} `)
          ? `${flag}${err.message.slice(err.field.length)}`
          : `${flag}: ${err.message}`,
      );
    }
    throw err;
  }
  if (parsed.json) console.log(JSON.stringify(result));
  else printTable(parsed.input, result);
}
