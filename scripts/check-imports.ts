/**
 * The import rule of docs/architecture.md, checked over every source file (`bun run check:imports`, run in
 * CI and by scripts/check-imports.test.ts):
 * - each layer imports only the layers below it (`platform ← db ← conversations ← routing ← calls`, …);
 * - channel adapters import the core's types only; nothing below `apps/` imports `apps/`;
 *   `apps/gateway` and `apps/inbox` never import each other;
 * - no import cycles between files outside the browser app;
 * - no file outside the browser app is longer than MAX_LINES unless its header says why.
 * Tests are exempt from the layer rule (an end-to-end test drives the whole product from beside the module
 * it specifies), not from cycles: nothing but a test may import a test file.
 */
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

/** About 400 lines of code at 120 columns; past this a file usually does several jobs. */
export const MAX_LINES = 450;
/** A file may be longer when its first lines carry this phrase and the reason after it. */
export const LONG_FILE_MARK = "Longer than usual because";

/** What each layer may import (besides itself). Order: most specific prefix first. */
const LAYERS: { layer: string; may: string[] }[] = [
  { layer: "platform", may: [] },
  { layer: "db", may: ["platform"] },
  { layer: "knowledge", may: ["db", "platform"] },
  { layer: "conversations", may: ["db", "platform"] },
  { layer: "routing", may: ["conversations", "knowledge", "db", "platform"] },
  { layer: "calls", may: ["routing", "conversations", "channels/voice", "db", "platform"] },
  { layer: "mailboxes", may: ["conversations", "channels/email", "db", "platform"] },
  // New domains beside routing/ (docs/architecture.md): outgoing webhooks, and later API keys and the like.
  { layer: "integrations", may: ["conversations", "db", "platform"] },
  // Service operations (docs/service-operations.md): tickets, SLA clocks, CSAT, and the automation that drives them.
  { layer: "tickets", may: ["conversations", "db", "platform"] },
  { layer: "sla", may: ["tickets", "routing", "conversations", "db", "platform"] },
  { layer: "csat", may: ["routing", "conversations", "db", "platform"] },
  {
    layer: "automation",
    may: ["sla", "tickets", "csat", "integrations", "routing", "conversations", "db", "platform"],
  },
  // Insight (docs/reports.md, quality.md, privacy.md): report facts and their figures, forecasts and what-if
  // replays through the real ACD; QA scoring of conversations and call transcripts; data subject requests,
  // retention and the audit log, which reach into every domain that stores a contact's data.
  { layer: "reports", may: ["csat", "sla", "tickets", "calls", "routing", "conversations", "db", "platform"] },
  { layer: "quality", may: ["calls", "routing", "conversations", "db", "platform"] },
  {
    layer: "privacy",
    may: [
      "reports",
      "quality",
      "automation",
      "csat",
      "sla",
      "tickets",
      "calls",
      "mailboxes",
      "knowledge",
      "integrations",
      "routing",
      "conversations",
      "db",
      "platform",
    ],
  },
  // Channel adapters are pure: the channel contract (conversations/channel.ts: the shapes, limits and the
  // permanent-failure error every adapter shares) and the rest of the core as types only (see TYPE_ONLY).
  { layer: "channels", may: ["conversations/channel.ts", "platform"] },
  { layer: "apps/gateway", may: ["apps/server", "BELOW_APPS"] },
  { layer: "apps/inbox", may: ["apps/server", "BELOW_APPS"] },
  { layer: "apps/demo", may: ["apps/server", "apps/gateway", "BELOW_APPS"] },
  { layer: "apps/server", may: ["apps", "BELOW_APPS"] },
  // The browser app bundles what it imports: server code only as types (see TYPE_ONLY).
  {
    layer: "apps/web",
    may: [
      "platform/permission.ts",
      // The detectors, pure: the inbox masks ID and card numbers on screen until "Reveal" (docs/privacy.md).
      "platform/pii.ts",
      "platform/wall-clock.ts",
      "conversations/canned-template.ts",
      "conversations/template-placeholders.ts",
    ],
  },
  { layer: "bench", may: ["*"] },
  { layer: "scripts", may: ["*"] },
  { layer: "test", may: ["*"] },
];
const BELOW_APPS = [
  "platform",
  "db",
  "knowledge",
  "conversations",
  "routing",
  "calls",
  "mailboxes",
  "channels",
  "integrations",
  "tickets",
  "sla",
  "csat",
  "automation",
  "reports",
  "quality",
  "privacy",
];
/** Imports a layer may make as `import type` (erased at build time) beyond its list above. */
const TYPE_ONLY: Record<string, string[]> = {
  channels: ["conversations", "db"],
  "apps/web": ["*"],
};

export type Source = { path: string; text: string };
export type Problem = { file: string; message: string };
type Import = { target: string; typeOnly: boolean };

const IMPORT = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/g;
const DYNAMIC = /import\(\s*["']([^"']+)["']\s*\)/g;

function layerOf(path: string) {
  return LAYERS.find((l) => path === l.layer || path.startsWith(`${l.layer}/`))?.layer;
}

function isTest(path: string) {
  return /\.test\.tsx?$/.test(path);
}

function importsOf(source: Source): Import[] {
  const found: Import[] = [];
  const resolve = (spec: string) => normalize(join(dirname(source.path), spec));
  for (const m of source.text.matchAll(IMPORT)) {
    const spec = m[3] ?? "";
    if (spec.startsWith(".")) found.push({ target: resolve(spec), typeOnly: Boolean(m[2]) });
  }
  for (const m of source.text.matchAll(DYNAMIC)) {
    const spec = m[1] ?? "";
    if (spec.startsWith(".")) found.push({ target: resolve(spec), typeOnly: false });
  }
  return found;
}

function within(target: string, prefix: string) {
  return prefix === "*" || target === prefix || target.startsWith(`${prefix}/`);
}

function allowed(from: string, to: string, typeOnly: boolean) {
  const layer = layerOf(from);
  if (!layer) return true;
  if (within(to, layer)) return true;
  const rule = LAYERS.find((l) => l.layer === layer)!;
  const may = rule.may.flatMap((p) => (p === "BELOW_APPS" ? BELOW_APPS : [p]));
  if (may.some((p) => within(to, p))) return true;
  return typeOnly && (TYPE_ONLY[layer] ?? []).some((p) => within(to, p));
}

/** Strongly connected components with more than one file (Tarjan), each as a list of files. */
function cycles(graph: Map<string, string[]>) {
  let index = 0;
  const stack: string[] = [];
  const meta = new Map<string, { index: number; low: number; onStack: boolean }>();
  const found: string[][] = [];
  const visit = (v: string) => {
    const m = { index, low: index, onStack: true };
    index++;
    meta.set(v, m);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      const seen = meta.get(w);
      if (!seen) {
        visit(w);
        m.low = Math.min(m.low, meta.get(w)!.low);
      } else if (seen.onStack) m.low = Math.min(m.low, seen.index);
    }
    if (m.low === m.index) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        meta.get(w)!.onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!meta.has(v)) visit(v);
  return found;
}

export function checkImports(sources: Source[]): Problem[] {
  const problems: Problem[] = [];
  const graph = new Map<string, string[]>();
  for (const source of sources) {
    const imports = importsOf(source);
    const browser = source.path.startsWith("apps/web/");
    if (!browser)
      graph.set(
        source.path,
        imports.map((i) => i.target),
      );
    for (const { target, typeOnly } of imports) {
      if (isTest(target) && !isTest(source.path)) {
        problems.push({ file: source.path, message: `imports the test ${target}` });
      }
      if (!isTest(source.path) && !allowed(source.path, target, typeOnly)) {
        problems.push({ file: source.path, message: `${layerOf(source.path)} may not import ${target}` });
      }
    }
    const lines = source.text.split("\n").length;
    if (!browser && lines > MAX_LINES && !source.text.split("\n", 20).join("\n").includes(LONG_FILE_MARK)) {
      problems.push({ file: source.path, message: `${lines} lines: split it by job, or say "${LONG_FILE_MARK} …"` });
    }
  }
  for (const component of cycles(graph)) {
    problems.push({ file: component[0]!, message: `import cycle: ${component.join(" → ")}` });
  }
  return problems;
}

const IGNORED = /(^|\/)(node_modules|data|dist|migrations|\.bench)\//;

export function projectSources(root: string): Source[] {
  const glob = new Bun.Glob("**/*.{ts,tsx}");
  return [...glob.scanSync({ cwd: root, dot: false })]
    .filter((p) => !IGNORED.test(p))
    .sort()
    .map((path) => ({ path, text: readFileSync(join(root, path), "utf8") }));
}

if (import.meta.main) {
  const problems = checkImports(projectSources(join(import.meta.dir, "..")));
  for (const p of problems) console.error(`${p.file}: ${p.message}`);
  console.log(problems.length ? `${problems.length} import-rule problems` : "import rule: ok");
  process.exit(problems.length ? 1 : 0);
}
