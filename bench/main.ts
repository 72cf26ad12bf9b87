/**
 * `bun run bench <name> [--json]`. Each benchmark lives in its own module, loaded only when asked
 * for, so one benchmark's imports never slow down or break another.
 */
const USAGE = "usage: bun run bench <ingest|widget> [--json]";

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith("--"));
const json = args.includes("--json");

switch (name) {
  case "ingest":
    await (await import("./ingest.ts")).benchIngest({ json });
    break;
  case "widget":
    await (await import("./widget.ts")).benchWidget({ json });
    break;
  default:
    console.error(USAGE);
    process.exit(2);
}
