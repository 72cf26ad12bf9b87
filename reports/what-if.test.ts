import { describe, expect, it } from "bun:test";
import { DEFAULT_CAPACITY } from "../routing/acd.ts";
import type { ReplayAgent, ReplayQueue } from "./replay.ts";
import { changedQueues, changedShifts, intervalsOf } from "./what-if.ts";

const FROM = Date.parse("2026-10-07T01:00:00Z");
const TO = FROM + 2 * 3_600_000;
const agent = (id: string, skills: Record<string, number> = { support: 2 }): ReplayAgent => ({
  id,
  skills,
  capacity: { ...DEFAULT_CAPACITY },
});
const queue: ReplayQueue = {
  id: "q",
  requiredSkills: [{ skill: "billing", minLevel: 1 }],
  overflow: [],
  serviceLevelS: 20,
  priority: 0,
};
const agents = [agent("b"), agent("a"), agent("c", { french: 3 })];
const shifts = intervalsOf(FROM, TO).map((iv) => ({ ...iv, agentIds: ["a", "b"] }));
const at = (h: number) => new Date(FROM + h * 3_600_000).toISOString();

describe("a what-if's change", () => {
  it("sets the head count of the intervals a range covers: first by id when fewer, others then copies when more", () => {
    const change = {
      agentsPerInterval: [
        { start: at(0), end: at(1), agents: 1 },
        { start: at(1), end: at(2), agents: 5 },
      ],
    };
    const r = changedShifts(shifts, agents, [queue], change, ["a", "b", "c"]);
    expect(r.shifts.map((s) => s.agentIds)).toEqual([
      ["a"],
      ["a"],
      ["a", "b", "c", "extra-0001", "extra-0002"],
      ["a", "b", "c", "extra-0001", "extra-0002"],
    ]);
    // Extra agents copy those who were on duty, in turn.
    expect(r.agents.slice(3).map((x) => x.skills)).toEqual([{ support: 2 }, { support: 2 }]);
  });

  it("adds or takes a delta everywhere, in either spelling, and only puts enabled agents on duty", () => {
    const plus = changedShifts(shifts, agents, [queue], { agentsDelta: 2 }, ["a", "b"]);
    expect(plus.shifts[0]!.agentIds).toEqual(["a", "b", "extra-0001", "extra-0002"]);
    expect(changedShifts(shifts, agents, [queue], { agentsPerInterval: { delta: 2 } }, ["a", "b"])).toEqual(plus);
    expect(changedShifts(shifts, agents, [queue], { agentsDelta: -5 }).shifts[0]!.agentIds).toEqual([]);
  });

  it("makes up agents holding every replayed queue's skills when nobody was on duty to copy", () => {
    const empty = shifts.map((s) => ({ ...s, agentIds: [] }));
    const r = changedShifts(empty, [], [queue], { agentsDelta: 1 }, []);
    expect(r.agents).toEqual([{ id: "extra-0001", skills: { billing: 5 }, capacity: { ...DEFAULT_CAPACITY } }]);
  });

  it("leaves the roster alone without a head-count change, and edits only the queues it names", () => {
    expect(changedShifts(shifts, agents, [queue], {}).shifts).toBe(shifts);
    const skills = [{ skill: "support", minLevel: 1 }];
    const [q] = changedQueues([queue], { queues: [{ id: "q", skills }], priority: [{ queueId: "q", priority: 7 }] });
    expect(q).toEqual({ ...queue, requiredSkills: skills, priority: 7 });
    expect(changedQueues([queue], { queues: [{ id: "other", skills }] })).toEqual([queue]);
  });
});
