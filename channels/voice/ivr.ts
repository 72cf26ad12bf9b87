import type { IvrState } from "../../db/schema/call.ts";
import type { IvrFlow, IvrLanguage, IvrNode, IvrText } from "./flow.ts";
import { phrases } from "./phrases.ts";

/**
 * The IVR interpreter: from where a call stands in its flow and what the caller just did, run the
 * flow's server-side nodes (hours, lookups, attributes) until the caller must be asked something or
 * the flow ends. Pure but for the injected lookup and clock, so every flow is testable offline.
 */
export type Prompt = { say: string; language: IvrLanguage } | { play: string };
type Node<T extends IvrNode["type"]> = Extract<IvrNode, { type: T }>;

export type IvrStep =
  | { kind: "gather"; prompts: Prompt[]; nodeId: string; node: Node<"gather"> }
  | { kind: "enqueue"; prompts: Prompt[]; node: Node<"enqueue"> }
  | { kind: "voicemail"; prompts: Prompt[]; node: Node<"voicemail"> }
  | { kind: "callback"; prompts: Prompt[]; node: Node<"callback"> }
  | { kind: "transfer"; prompts: Prompt[]; node: Node<"transfer"> }
  | { kind: "hangup"; prompts: Prompt[] };

export type IvrInput = { digits?: string; speech?: string };

export type IvrContext = {
  now: Date;
  from: string;
  to: string;
  isOpen(hours: Node<"hours">["hours"], now: Date): boolean;
  /** GETs the lookup URL; resolves to the parsed JSON, or throws on failure or timeout. */
  lookup(url: string, timeoutMs: number, query: Record<string, string>): Promise<unknown>;
};

/** A guard beyond what flow validation allows: never spin, even on a flow saved before a rule existed. */
const MAX_NODES_PER_TURN = 100;

export function startState(flow: IvrFlow): IvrState {
  return {
    node: flow.start,
    step: 0,
    reply: "",
    attempts: 0,
    attributes: {},
    priority: 0,
    skills: [],
    language: flow.language,
    path: [],
  };
}

export function textFor(text: IvrText, language: IvrLanguage, attributes: Record<string, unknown>) {
  const raw = typeof text === "string" ? text : (text[language] ?? text.en ?? text["zh-CN"]!);
  // `{{orderStatus}}` reads back what a lookup or gather stored.
  return raw.replace(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g, (_, name: string) => {
    const v = attributes[name];
    return v === undefined || v === null ? "" : String(v);
  });
}

/** Spoken keywords: a Chinese one matches inside a sentence, an English one ignoring case. */
export function spokenMatch(speech: string, keywords: string[]) {
  const heard = speech.toLocaleLowerCase().replace(/[\s，。！？,.!?]/g, "");
  return keywords.some((k) => heard.includes(k.toLocaleLowerCase().replace(/\s/g, "")));
}

function readPath(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * One turn. With `input` the caller answered the gather the call stands at; without, the flow runs
 * from the current node (a new call). Returns the new state and what to do now.
 */
export async function runIvr(
  flow: IvrFlow,
  state: IvrState,
  input: IvrInput | null,
  ctx: IvrContext,
): Promise<{ state: IvrState; step: IvrStep }> {
  const s: IvrState = { ...state, attributes: { ...state.attributes }, path: [...state.path], step: state.step + 1 };
  const prompts: Prompt[] = [];
  const say = (text: IvrText | string) =>
    prompts.push({ say: textFor(text, s.language, s.attributes), language: s.language });
  let at = s.node;

  if (input && at && flow.nodes[at]?.type === "gather") {
    const g = flow.nodes[at] as Node<"gather">;
    const digits = input.digits?.trim() || undefined;
    const speech = input.speech?.trim() || undefined;
    const branch = g.branches.find(
      (b) =>
        (digits !== undefined && b.digits === digits) ||
        (speech !== undefined && b.keywords?.length && spokenMatch(speech, b.keywords)),
    );
    const given = digits ?? speech;
    if (given !== undefined && g.saveAs) s.attributes[g.saveAs] = given;
    if (branch) {
      s.path.push({ node: at, input: given });
      s.attempts = 0;
      if (branch.language) s.language = branch.language;
      at = branch.next;
    } else if (given !== undefined && g.anyInputNext) {
      s.path.push({ node: at, input: given });
      s.attempts = 0;
      at = g.anyInputNext;
    } else {
      s.attempts += 1;
      if (s.attempts >= g.maxAttempts) {
        s.path.push({ node: at, input: given ?? "(no input)" });
        s.attempts = 0;
        say(phrases(s.language).notUnderstood);
        at = g.fallback;
      } else {
        // Ask again, saying why: a caller pressing a key no branch expects is never dropped silently.
        say(phrases(s.language).notUnderstood);
      }
    }
  }

  for (let n = 0; n < MAX_NODES_PER_TURN && at; n++) {
    const node: IvrNode | undefined = flow.nodes[at];
    if (!node) break;
    s.node = at;
    switch (node.type) {
      case "say":
        say(node.text);
        at = node.next;
        continue;
      case "play":
        prompts.push({ play: node.url });
        at = node.next;
        continue;
      case "hours": {
        const open = ctx.isOpen(node.hours, ctx.now);
        s.path.push({ node: at, input: open ? "open" : "closed" });
        at = open ? node.open : node.closed;
        continue;
      }
      case "lookup": {
        let ok = false;
        try {
          const answer = await ctx.lookup(node.url, node.timeoutMs, {
            from: ctx.from,
            to: ctx.to,
            ...Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => [k, String(v)])),
          });
          const read = Object.entries(node.assign).map(([name, path]) => [name, readPath(answer, path)] as const);
          // Every assigned field must be there and plain, or the caller would hear "undefined".
          ok = read.every(([, v]) => typeof v === "string" || typeof v === "number" || typeof v === "boolean");
          if (ok) for (const [name, v] of read) s.attributes[name] = v;
        } catch {
          ok = false;
        }
        s.path.push({ node: at, input: ok ? "ok" : "failed" });
        at = ok ? node.next : node.fallback;
        continue;
      }
      case "set":
        if (node.attributes) Object.assign(s.attributes, node.attributes);
        if (node.priority !== undefined) s.priority = node.priority;
        if (node.skills) s.skills = node.skills;
        if (node.language) s.language = node.language;
        at = node.next;
        continue;
      case "gather":
        say(node.prompt);
        return { state: s, step: { kind: "gather", prompts, nodeId: at, node } };
      case "hangup":
        if (node.text) say(node.text);
        s.path.push({ node: at });
        return { state: { ...s, node: null }, step: { kind: "hangup", prompts } };
      case "enqueue":
      case "voicemail":
      case "callback":
      case "transfer":
        s.path.push({ node: at });
        return { state: { ...s, node: null }, step: { kind: node.type, prompts, node } as IvrStep };
    }
  }
  // Only a broken flow gets here (checkFlow rejects loops without a gather): end politely.
  say(phrases(s.language).unavailable);
  return { state: { ...s, node: null }, step: { kind: "hangup", prompts } };
}
