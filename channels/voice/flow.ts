import { z } from "zod";

/**
 * IVR flows are data: a map of nodes from `start`, saved per voice inbox by admins. The schema says
 * what each node holds; `checkFlow` says whether the graph is sound (every reference resolves, every
 * node is reachable, and no loop can spin without waiting for the caller).
 */
const NodeId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1–64 letters, digits, _ or -");
const Text = z.union([
  z.string().min(1).max(2000),
  z
    .object({ en: z.string().min(1).max(2000).optional(), "zh-CN": z.string().min(1).max(2000).optional() })
    .refine((t) => t.en || t["zh-CN"], "needs en or zh-CN text"),
]);
export const IVR_LANGUAGES = ["en", "zh-CN"] as const;
const Language = z.enum(IVR_LANGUAGES);
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM");
const Skill = z.object({ skill: z.string().min(1).max(100), minLevel: z.number().int().min(1).max(5) });

const Say = z.object({ type: z.literal("say"), text: Text, next: NodeId });
const Play = z.object({ type: z.literal("play"), url: z.url({ protocol: /^https?$/ }), next: NodeId });
const Gather = z.object({
  type: z.literal("gather"),
  prompt: Text,
  input: z
    .array(z.enum(["dtmf", "speech"]))
    .min(1)
    .max(2)
    .default(["dtmf", "speech"]),
  timeoutS: z.number().int().min(1).max(30).default(5),
  /** Keys pressed before the caller is taken to mean "no more" (1 for a menu, more for an order number). */
  numDigits: z.number().int().min(1).max(20).default(1),
  branches: z
    .array(
      z
        .object({
          digits: z
            .string()
            .regex(/^[0-9*#]{1,20}$/, "must be keys 0-9, * or #")
            .optional(),
          /** Spoken words that choose this branch; Chinese ones match inside a sentence ("我想退款"). */
          keywords: z.array(z.string().trim().min(1).max(100)).max(50).optional(),
          language: Language.optional(),
          next: NodeId,
        })
        .refine((b) => b.digits || b.keywords?.length, "a branch needs digits or keywords"),
    )
    .min(1, "a gather needs at least one branch")
    .max(20),
  /** Where the caller goes after `maxAttempts` without a usable answer: never a silent drop. */
  fallback: NodeId,
  maxAttempts: z.number().int().min(1).max(5).default(3),
  /** Put the gathered value in an attribute (an order number for a lookup). */
  saveAs: z.string().min(1).max(64).optional(),
  /** Any input is accepted and saved (an order number): `next` is taken instead of branches. */
  anyInputNext: NodeId.optional(),
});
const Hours = z.object({
  type: z.literal("hours"),
  hours: z.object({
    timeZone: z.string().min(1).max(64),
    weekly: z.partialRecord(
      z.enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
      z.array(z.tuple([HHMM, HHMM])).max(6),
    ),
    holidays: z.array(z.iso.date()).max(366).default([]),
  }),
  open: NodeId,
  closed: NodeId,
});
const Lookup = z.object({
  type: z.literal("lookup"),
  url: z.url({ protocol: /^https?$/ }),
  timeoutMs: z.number().int().min(100).max(10_000).default(2000),
  /** attribute name → dotted path in the JSON answer (`order.status`). */
  assign: z.record(z.string().min(1).max(64), z.string().min(1).max(200)),
  next: NodeId,
  /** Taken when the lookup fails, times out or answers something unreadable. */
  fallback: NodeId,
});
const SetNode = z.object({
  type: z.literal("set"),
  attributes: z.record(z.string().min(1).max(64), z.union([z.string().max(500), z.number(), z.boolean()])).optional(),
  priority: z.number().int().min(-100).max(100).optional(),
  skills: z.array(Skill).max(20).optional(),
  language: Language.optional(),
  next: NodeId,
});
const Enqueue = z.object({
  type: z.literal("enqueue"),
  queueId: z.uuid(),
  /** How often the waiting caller hears their position and estimated wait. */
  announceEveryS: z.number().int().min(10).max(600).default(30),
  holdMusicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** "Press 1 to be called back" while waiting. */
  offerCallback: z.boolean().default(true),
});
const Voicemail = z.object({
  type: z.literal("voicemail"),
  prompt: Text,
  maxLengthS: z.number().int().min(5).max(600).default(120),
  transcribe: z.boolean().default(true),
});
const Callback = z.object({ type: z.literal("callback"), prompt: Text, queueId: z.uuid() });
const Transfer = z.object({
  type: z.literal("transfer"),
  number: z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number like +8613800000000"),
  text: Text.optional(),
});
const Hangup = z.object({ type: z.literal("hangup"), text: Text.optional() });

export const IvrNode = z.discriminatedUnion("type", [
  Say,
  Play,
  Gather,
  Hours,
  Lookup,
  SetNode,
  Enqueue,
  Voicemail,
  Callback,
  Transfer,
  Hangup,
]);
export const IvrFlow = z.object({
  start: NodeId,
  language: Language.default("en"),
  nodes: z
    .record(NodeId, IvrNode)
    .refine((n) => Object.keys(n).length > 0, "a flow needs nodes")
    .refine((n) => Object.keys(n).length <= 200, "a flow has at most 200 nodes"),
});
export type IvrFlow = z.infer<typeof IvrFlow>;
export type IvrNode = z.infer<typeof IvrNode>;
export type IvrText = z.infer<typeof Text>;
export type IvrLanguage = z.infer<typeof Language>;

export type FlowProblem = { path: string; message: string };

/** The nodes a node can lead to, with the field that names each (for error paths). */
export function edgesOf(node: IvrNode): { field: string; to: string }[] {
  switch (node.type) {
    case "say":
    case "play":
    case "set":
      return [{ field: "next", to: node.next }];
    case "gather":
      return [
        ...node.branches.map((b, i) => ({ field: `branches.${i}.next`, to: b.next })),
        { field: "fallback", to: node.fallback },
        ...(node.anyInputNext ? [{ field: "anyInputNext", to: node.anyInputNext }] : []),
      ];
    case "hours":
      return [
        { field: "open", to: node.open },
        { field: "closed", to: node.closed },
      ];
    case "lookup":
      return [
        { field: "next", to: node.next },
        { field: "fallback", to: node.fallback },
      ];
    default:
      return [];
  }
}

/**
 * Graph checks the schema cannot express. A loop is fine only through a gather (the caller answers
 * each time round, and attempts are capped); any other loop would spin without end.
 */
export function checkFlow(flow: IvrFlow): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const nodes = flow.nodes;
  if (!nodes[flow.start]) problems.push({ path: "start", message: `start refers to unknown node "${flow.start}"` });
  for (const [id, node] of Object.entries(nodes)) {
    for (const e of edgesOf(node))
      if (!nodes[e.to]) problems.push({ path: `nodes.${id}.${e.field}`, message: `refers to unknown node "${e.to}"` });
    if (node.type === "gather") {
      const seen = new Set<string>();
      node.branches.forEach((b, i) => {
        if (!b.digits) return;
        if (seen.has(b.digits))
          problems.push({
            path: `nodes.${id}.branches.${i}.digits`,
            message: `keys "${b.digits}" already choose another branch`,
          });
        seen.add(b.digits);
      });
    }
  }
  if (problems.length) return problems;
  const reached = new Set<string>();
  const stack = [flow.start];
  while (stack.length) {
    const id = stack.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    for (const e of edgesOf(nodes[id]!)) stack.push(e.to);
  }
  for (const id of Object.keys(nodes))
    if (!reached.has(id)) problems.push({ path: `nodes.${id}`, message: `node "${id}" cannot be reached from start` });
  // Depth-first search for a cycle among non-gather nodes.
  const state = new Map<string, "open" | "done">();
  const visit = (id: string, trail: string[]): string[] | null => {
    if (nodes[id]!.type === "gather") return null;
    if (state.get(id) === "done") return null;
    if (state.get(id) === "open") return [...trail.slice(trail.indexOf(id)), id];
    state.set(id, "open");
    for (const e of edgesOf(nodes[id]!)) {
      const cycle = visit(e.to, [...trail, id]);
      if (cycle) return cycle;
    }
    state.set(id, "done");
    return null;
  };
  for (const id of Object.keys(nodes)) {
    const cycle = visit(id, []);
    if (cycle) {
      problems.push({ path: `nodes.${cycle[0]}`, message: `loop without a gather: ${cycle.join(" → ")}` });
      break;
    }
  }
  return problems;
}

/** Queues a flow sends callers to: the API checks they exist in the inbox's workspace. */
export function queuesOf(flow: IvrFlow) {
  return Object.entries(flow.nodes).flatMap(([id, n]) =>
    n.type === "enqueue" || n.type === "callback" ? [{ path: `nodes.${id}.queueId`, queueId: n.queueId }] : [],
  );
}
