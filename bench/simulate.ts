import { simulate, type SimulationInput } from "../routing/planner.ts";

/**
 * The routing simulator at a million arrivals, every assignment decided by the real ACD (route,
 * reserve, accept): wall time and arrivals per second on one core, against the 20 s target.
 */

const ARRIVALS = 1_000_000;
const TARGET_SECONDS = 20;

/** Hours chosen so that a million arrivals are expected; Poisson makes the count land close to it. */
const SCENARIOS: { name: string; input: Omit<SimulationInput, "hours"> }[] = [
  { name: "30 agents, 360/h, AHT 240 s", input: { ratePerHour: 360, ahtSeconds: 240, agents: 30, seed: 1 } },
  // Many free agents per decision, and callers hanging up.
  {
    name: "250 agents, 3600/h, AHT 240 s, patience 120 s",
    input: { ratePerHour: 3600, ahtSeconds: 240, agents: 250, patienceSeconds: 120, seed: 1 },
  },
];

export type SimulateBenchRow = {
  scenario: string;
  offered: number;
  wallSeconds: number;
  arrivalsPerSecond: number;
  withinTarget: boolean;
};

export async function benchSimulate(opts: { json: boolean }): Promise<SimulateBenchRow[]> {
  const rows: SimulateBenchRow[] = [];
  for (const { name, input } of SCENARIOS) {
    const started = performance.now();
    const result = simulate({ ...input, hours: ARRIVALS / input.ratePerHour });
    const wallSeconds = (performance.now() - started) / 1000;
    rows.push({
      scenario: name,
      offered: result.offered,
      wallSeconds: Math.round(wallSeconds * 1000) / 1000,
      arrivalsPerSecond: Math.round(result.offered / wallSeconds),
      withinTarget: wallSeconds < TARGET_SECONDS,
    });
  }
  if (opts.json) console.log(JSON.stringify({ targetSeconds: TARGET_SECONDS, scenarios: rows }));
  else printTable(rows);
  return rows;
}

function printTable(rows: SimulateBenchRow[]) {
  const head = ["scenario", "arrivals", "wall", "arrivals/s", `< ${TARGET_SECONDS} s`];
  const cells = rows.map((r) => [
    r.scenario,
    String(r.offered),
    `${r.wallSeconds.toFixed(2)} s`,
    String(r.arrivalsPerSecond),
    r.withinTarget ? "yes" : "NO",
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join(" | ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of cells) console.log(line(row));
}
