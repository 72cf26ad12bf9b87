import { z } from "zod";
import { QueueInput } from "../routing/queue.ts";
import { DEFAULT_CAPACITY } from "../routing/acd.ts";
import { Invalid } from "../platform/errors.ts";
import { SLOT_MS } from "./forecast.ts";
import type { ReplayAgent, ReplayQueue, Shift } from "./replay.ts";

/**
 * A what-if's input and how its change turns the real period into the replayed one (docs/forecast.md):
 * the roster per interval (agents on duty), the queues' skills and overflow steps, their priorities.
 */

export const MAX_PERIOD_DAYS = 31;
export const MAX_ARRIVALS = 200_000;

const Instant = z.iso.datetime({ offset: true });
const Delta = z.number().int().min(-5000).max(5000);
const SkillRequirement = z.object({ skill: z.string().min(1).max(100), minLevel: z.number().int().min(1).max(5) });

export const WhatIfChange = z
  .object({
    /**
     * Agents on duty in [start, end), replacing what was really there; or `{delta}`, the same as
     * `agentsDelta`.
     */
    agentsPerInterval: z
      .union([
        z
          .array(z.object({ start: Instant, end: Instant, agents: z.number().int().min(0).max(5000) }).strict())
          .max(1500),
        z.object({ delta: Delta }).strict(),
      ])
      .optional(),
    /** Agents added to (or, negative, taken from) every interval's real roster. */
    agentsDelta: Delta.optional(),
    queues: z
      .array(
        z
          .object({
            id: z.uuid(),
            skills: z.array(SkillRequirement).max(20).optional(),
            overflow: QueueInput.shape.overflow.unwrap().optional(),
          })
          .strict(),
      )
      .max(100)
      .optional(),
    /** Priority points each queue's work starts with (the ACD adds a point per minute waited). */
    priority: z
      .array(z.object({ queueId: z.uuid(), priority: z.number().int().min(-100).max(100) }).strict())
      .max(100)
      .optional(),
  })
  .strict();
export type WhatIfChange = z.infer<typeof WhatIfChange>;

export const WhatIfInput = z
  .object({
    from: Instant,
    to: Instant,
    queueIds: z.array(z.uuid()).min(1).max(100).optional(),
    change: WhatIfChange.default({}),
    /** Seeds the draws for what history cannot tell (an abandoned call's handle time, an answered one's patience). */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31)
      .default(1),
  })
  .strict();
export type WhatIfInput = z.infer<typeof WhatIfInput>;

/** What zod cannot check alone: the period, the intervals inside it, queues that exist. */
export function checkWhatIf(input: WhatIfInput, queueIds: ReadonlySet<string>) {
  const from = Date.parse(input.from);
  const to = Date.parse(input.to);
  if (!(to > from)) throw new Invalid("to must be after from", "to");
  if (to - from > MAX_PERIOD_DAYS * 86_400_000)
    throw new Invalid(`A what-if replays at most ${MAX_PERIOD_DAYS} days`, "to");
  input.queueIds?.forEach((id, i) => {
    if (!queueIds.has(id)) throw new Invalid(`Unknown queue ${id}`, `queueIds.${i}`);
  });
  intervalsOfChange(input.change).forEach((r, i) => {
    const field = `change.agentsPerInterval.${i}`;
    const start = Date.parse(r.start);
    const end = Date.parse(r.end);
    if (!(end > start)) throw new Invalid("end must be after start", `${field}.end`);
    if (start < from || start >= to) throw new Invalid("start must lie within the period", `${field}.start`);
    if (end > to) throw new Invalid("end must not pass the period's end", `${field}.end`);
  });
  input.change.queues?.forEach((q, i) => {
    if (!queueIds.has(q.id)) throw new Invalid(`Unknown queue ${q.id}`, `change.queues.${i}.id`);
    q.overflow?.forEach((step, j) => {
      if (step.action === "move_queue" && !queueIds.has(step.queueId))
        throw new Invalid(`Unknown queue ${step.queueId}`, `change.queues.${i}.overflow.${j}.queueId`);
      if (j > 0 && step.afterSeconds <= q.overflow![j - 1]!.afterSeconds)
        throw new Invalid(
          "Overflow steps must come in increasing afterSeconds",
          `change.queues.${i}.overflow.${j}.afterSeconds`,
        );
    });
  });
  input.change.priority?.forEach((p, i) => {
    if (!queueIds.has(p.queueId)) throw new Invalid(`Unknown queue ${p.queueId}`, `change.priority.${i}.queueId`);
  });
}

const intervalsOfChange = (c: WhatIfChange) => (Array.isArray(c.agentsPerInterval) ? c.agentsPerInterval : []);
const deltaOfChange = (c: WhatIfChange) =>
  c.agentsDelta ?? (c.agentsPerInterval && !Array.isArray(c.agentsPerInterval) ? c.agentsPerInterval.delta : 0);

/** The queues as the change leaves them. */
export function changedQueues(queues: ReplayQueue[], change: WhatIfChange): ReplayQueue[] {
  return queues.map((q) => {
    const edit = change.queues?.find((c) => c.id === q.id);
    const priority = change.priority?.find((p) => p.queueId === q.id)?.priority;
    return {
      ...q,
      ...(edit?.skills ? { requiredSkills: edit.skills } : {}),
      ...(edit?.overflow ? { overflow: edit.overflow } : {}),
      ...(priority !== undefined ? { priority } : {}),
    };
  });
}

/**
 * The roster with the change's head counts: an interval keeps its first agents (by id) when it has
 * fewer, and when it has more takes on the workspace's other agents, then extra agents, each a copy
 * of an agent who was on duty (or, with nobody to copy, holding every replayed queue's skills).
 */
export function changedShifts(
  shifts: Shift[],
  agents: ReplayAgent[],
  queues: ReplayQueue[],
  change: WhatIfChange,
  /** Agents who may be put on duty (the enabled ones), before any extra is made up. */
  addable: readonly string[] = agents.map((a) => a.id),
): { shifts: Shift[]; agents: ReplayAgent[] } {
  const ranges = intervalsOfChange(change);
  const delta = deltaOfChange(change);
  if (!ranges.length && !delta) return { shifts, agents };
  const known = new Map(agents.map((a) => [a.id, a]));
  const extra: ReplayAgent[] = [];
  const onDutyEver = [...new Set(shifts.flatMap((s) => s.agentIds))].flatMap((id) => known.get(id) ?? []);
  const templates = onDutyEver.length ? onDutyEver : agents;
  const everySkill: Record<string, number> = {};
  for (const q of queues) for (const r of q.requiredSkills) everySkill[r.skill] = 5;
  const extraAgent = (i: number): string => {
    while (extra.length <= i) {
      const t = templates[extra.length % Math.max(1, templates.length)];
      extra.push({
        id: `extra-${String(extra.length + 1).padStart(4, "0")}`,
        skills: t ? { ...t.skills } : everySkill,
        capacity: t ? { ...t.capacity } : { ...DEFAULT_CAPACITY },
      });
    }
    return extra[i]!.id;
  };
  const byId = [...addable].sort();
  const out = shifts.map((s) => {
    let count = Math.max(0, s.agentIds.length + delta);
    for (const r of ranges) {
      const start = Date.parse(r.start);
      const end = Date.parse(r.end);
      // An interval is changed when the range covers most of it.
      const overlap = Math.min(end, s.end) - Math.max(start, s.start);
      if (overlap * 2 >= s.end - s.start) count = r.agents;
    }
    const current = [...s.agentIds].sort();
    if (count <= current.length) return { ...s, agentIds: current.slice(0, count) };
    const ids = [...current];
    const on = new Set(current);
    for (const id of byId) {
      if (ids.length >= count) break;
      if (!on.has(id)) ids.push(id);
    }
    for (let i = 0; ids.length < count; i++) ids.push(extraAgent(i));
    return { ...s, agentIds: ids };
  });
  return { shifts: out, agents: [...agents, ...extra] };
}

/** The half-hours of [from, to), the last one cut at `to`. */
export function intervalsOf(from: number, to: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let t = from; t < to; t += SLOT_MS) out.push({ start: t, end: Math.min(to, t + SLOT_MS) });
  return out;
}
