import { expect, it } from "bun:test";
import type { OverflowStep } from "../db/schema/index.ts";
import { dueSteps } from "./overflow.ts";

const steps: OverflowStep[] = [
  { afterSeconds: 30, action: "widen_skills", skills: [] },
  { afterSeconds: 60, action: "auto_reply", message: "We are busy" },
  { afterSeconds: 90, action: "move_queue", queueId: "backup" },
  { afterSeconds: 95, action: "offer_callback" },
];

it("applies overflow steps in order as the wait passes each, each once", () => {
  expect(dueSteps(steps, 0, 10)).toEqual([]);
  expect(dueSteps(steps, 0, 61).map((s) => s.action)).toEqual(["widen_skills", "auto_reply"]);
  expect(dueSteps(steps, 2, 61)).toEqual([]);
  // A move ends the list: the next queue's own steps take over.
  expect(dueSteps(steps, 2, 200).map((s) => s.action)).toEqual(["move_queue"]);
});
