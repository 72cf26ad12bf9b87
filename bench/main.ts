/**
 * `bun run bench <name> [--json]`. Each benchmark lives in its own module, loaded only when asked
 * for, so one benchmark's imports never slow down or break another.
 */
export {}; // a module: top-level await and file-scoped names

const USAGE =
  "usage: bun run bench <ingest|widget|simulate|routing|ui|voice|voice-cost|email|search|wechat|messaging|automation|sla|reports|qa> [--json]";

const args = process.argv.slice(2);
const benchmark = args.find((a) => !a.startsWith("--"));
const json = args.includes("--json");

switch (benchmark) {
  case "ingest":
    await (await import("./ingest.ts")).benchIngest({ json });
    break;
  case "widget":
    await (await import("./widget.ts")).benchWidget({ json });
    break;
  case "simulate":
    await (await import("./simulate.ts")).benchSimulate({ json });
    break;
  case "routing":
    await (await import("./routing.ts")).benchRouting({ json });
    break;
  case "ui":
    await (await import("./ui.ts")).benchUi({
      json,
      only: args.includes("--paint") ? "paint" : args.includes("--list") ? "list" : undefined,
    });
    break;
  case "voice":
    await (await import("./voice.ts")).benchVoice({ json });
    break;
  case "voice-cost":
    await (await import("./voice-cost.ts")).benchVoiceCost({ json });
    break;
  case "email":
    await (await import("./email.ts")).benchEmail({ json });
    break;
  case "search":
    await (await import("./search.ts")).benchSearch({ json });
    break;
  case "wechat":
    await (await import("./wechat.ts")).benchWechat({ json });
    break;
  case "automation":
    await (await import("./automation.ts")).benchAutomation({ json });
    break;
  case "sla":
    await (await import("./sla.ts")).benchSla({ json });
    break;
  case "reports":
    await (await import("./reports.ts")).benchReports({ json });
    break;
  case "qa":
    await (await import("./qa-throughput.ts")).benchQa({ json });
    break;
  case "messaging":
    await (await import("./messaging.ts")).benchMessaging({ json });
    break;
  default:
    console.error(USAGE);
    process.exit(2);
}
