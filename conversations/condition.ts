import { z } from "zod";
import type { RuleCondition } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

/**
 * The one condition language of SLA policies, automation rules and their dry-runs: a list of
 * `{field, op, value}` that must all hold for a subject (a conversation or a ticket, flattened into
 * `ConditionSubject`). Compiled once per rule (regexes built, values normalised) so that evaluating
 * hundreds of rules per event is a few comparisons each.
 */
export type ConditionSubject = {
  kind: "conversation" | "ticket";
  channel?: string | null;
  inboxId?: string | null;
  /** The message text the event is about (the first customer message for `conversation.created`). */
  text?: string | null;
  language?: string | null;
  status?: string | null;
  /** low | normal | high | urgent (a conversation's numeric priority is named by `priorityName`). */
  priority?: string | null;
  labels?: string[];
  queueId?: string | null;
  teamId?: string | null;
  assigneeId?: string | null;
  ticketType?: string | null;
  vip?: boolean;
  /** Whether the moment of the event falls in business hours (the queue's, else the workspace's). */
  businessHours?: boolean;
  /** The contact's attributes (`contact.plan`, `contact.city`…). */
  contact?: Record<string, unknown>;
};

export const conditionFields = [
  "kind",
  "channel",
  "inbox",
  "text",
  "language",
  "status",
  "priority",
  "labels",
  "queue",
  "team",
  "assignee",
  "ticketType",
  "vip",
  "businessHours",
] as const;
export const conditionOps = [
  "equals",
  "not_equals",
  "in",
  "not_in",
  "contains",
  "not_contains",
  "regex",
  "starts_with",
  "present",
  "absent",
  "gt",
  "gte",
  "lt",
  "lte",
] as const;
export type ConditionOp = (typeof conditionOps)[number];

const PRIORITY_RANK: Record<string, number> = { low: 0, normal: 1, high: 2, urgent: 3 };

/** A conversation's routing priority (an integer; VIP rules give 10) as a ticket-style name. */
export function priorityName(priority: number): "low" | "normal" | "high" | "urgent" {
  if (priority >= 20) return "urgent";
  if (priority >= 10) return "high";
  if (priority < 0) return "low";
  return "normal";
}

/** The integer a conversation gets when a rule or macro sets its priority by name. */
export const PRIORITY_VALUE = { low: -10, normal: 0, high: 10, urgent: 20 } as const;

// A user's regex runs on every event: keep it short, and refuse the nested quantifiers that make
// backtracking explode ((a+)+, (\w*)*).
const MAX_PATTERN = 200;
const NESTED_QUANTIFIER = /\([^()]*[+*][^()]*\)\s*[+*{]/;
/** How much text a condition reads: long mails are judged by their start. */
const MAX_TEXT = 5000;

export const conditionSchema = z
  .object({
    field: z.string().min(1).max(100),
    op: z.enum(conditionOps),
    value: z.unknown().optional(),
  })
  .strict();
export const conditionsSchema = z.array(conditionSchema).max(50);

type Compiled = (s: ConditionSubject) => boolean;

function valueOf(s: ConditionSubject, field: string): unknown {
  if (field.startsWith("contact.")) return s.contact?.[field.slice("contact.".length)];
  switch (field) {
    case "inbox":
      return s.inboxId;
    case "queue":
      return s.queueId;
    case "team":
      return s.teamId;
    case "assignee":
      return s.assigneeId;
    case "text":
      // Sliced only when long: this runs for every text condition of every rule on every event.
      return s.text && s.text.length > MAX_TEXT ? s.text.slice(0, MAX_TEXT) : s.text;
    default:
      return s[field as keyof ConditionSubject];
  }
}

const lower = (v: unknown) => (typeof v === "string" ? v.toLocaleLowerCase() : v);

// Hundreds of rules read the same text of one event: it is lower-cased once, not once per condition.
let lastText: string | undefined;
let lastLower = "";
function lowerText(v: string) {
  if (v !== lastText) {
    lastText = v;
    lastLower = v.toLocaleLowerCase();
  }
  return lastLower;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function compare(field: string, a: unknown, b: unknown): number | undefined {
  if (field === "priority" && typeof a === "string" && typeof b === "string")
    return (PRIORITY_RANK[a] ?? 1) - (PRIORITY_RANK[b] ?? 1);
  const x = Number(a);
  const y = Number(b);
  if (a === null || a === undefined || Number.isNaN(x) || Number.isNaN(y)) return undefined;
  return x - y;
}

function compileOne(c: RuleCondition, index: number): Compiled {
  const at = `conditions.${index}`;
  const { field, op } = c;
  if (!(conditionFields as readonly string[]).includes(field) && !/^contact\.[\w.-]{1,64}$/.test(field))
    throw new Invalid(`Unknown condition field "${field}"`, `${at}.field`);
  const needsValue = op !== "present" && op !== "absent";
  if (needsValue && (c.value === undefined || c.value === null || c.value === ""))
    throw new Invalid(`Condition "${op}" needs a value`, `${at}.value`);
  if ((op === "in" || op === "not_in") && !Array.isArray(c.value))
    throw new Invalid(`Condition "${op}" needs a list of values`, `${at}.value`);
  const get = (s: ConditionSubject) => valueOf(s, field);
  switch (op) {
    case "present":
      return (s) => {
        const v = get(s);
        return v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && v.length === 0);
      };
    case "absent":
      return (s) => {
        const v = get(s);
        return v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
      };
    case "equals":
    case "not_equals": {
      const want = lower(c.value);
      const eq = (s: ConditionSubject) => {
        const v = get(s);
        return Array.isArray(v) ? v.some((x) => lower(x) === want) : lower(v) === want || String(v) === String(want);
      };
      return op === "equals" ? eq : (s) => !eq(s);
    }
    case "in":
    case "not_in": {
      const wanted = new Set((c.value as unknown[]).map((v) => String(lower(v))));
      const hit = (s: ConditionSubject) => list(get(s)).some((v) => v !== undefined && wanted.has(String(lower(v))));
      return op === "in" ? hit : (s) => !hit(s);
    }
    case "contains":
    case "not_contains":
    case "starts_with": {
      if (typeof c.value !== "string" && !Array.isArray(c.value))
        throw new Invalid(`Condition "${op}" needs text`, `${at}.value`);
      // A list means "any of these" (退款 / refund).
      const needles = list(c.value).map((v) => String(v).toLocaleLowerCase());
      const one = (v: unknown) => {
        if (typeof v !== "string") return false;
        const hay = lowerText(v);
        return needles.some((n) => (op === "starts_with" ? hay.startsWith(n) : hay.includes(n)));
      };
      const has = (s: ConditionSubject) => {
        const v = get(s);
        return Array.isArray(v) ? v.some(one) : one(v);
      };
      return op === "not_contains" ? (s) => !has(s) : has;
    }
    case "regex": {
      const pattern = String(c.value);
      if (pattern.length > MAX_PATTERN)
        throw new Invalid(`Pattern longer than ${MAX_PATTERN} characters`, `${at}.value`);
      if (NESTED_QUANTIFIER.test(pattern))
        throw new Invalid("Pattern has a nested quantifier, which can take forever to match", `${at}.value`);
      let re: RegExp;
      try {
        re = new RegExp(pattern, "iu");
      } catch (err) {
        throw new Invalid(`Not a valid pattern: ${(err as Error).message}`, `${at}.value`);
      }
      const one = (v: unknown) => typeof v === "string" && re.test(v);
      return (s) => {
        const v = get(s);
        return Array.isArray(v) ? v.some(one) : one(v);
      };
    }
    default: {
      const signs: Record<string, (d: number) => boolean> = {
        gt: (d) => d > 0,
        gte: (d) => d >= 0,
        lt: (d) => d < 0,
        lte: (d) => d <= 0,
      };
      const sign = signs[op]!;
      return (s) => {
        const d = compare(field, get(s), c.value);
        return d !== undefined && sign(d);
      };
    }
  }
}

/**
 * Checks and compiles conditions; an unknown field, a missing value or a bad pattern is an `Invalid`
 * naming `conditions.<i>.<part>`, so a rule is refused whole when it is saved, never half-applied.
 */
export function compileConditions(raw: unknown): { conditions: RuleCondition[]; matches: Compiled } {
  const parsed = conditionsSchema.safeParse(raw ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ["conditions", ...issue.path.map(String)].join(".");
    throw new Invalid(`${field}: ${issue.message}`, field);
  }
  const conditions = parsed.data as RuleCondition[];
  const compiled = conditions.map(compileOne);
  return { conditions, matches: (s) => compiled.every((f) => f(s)) };
}
