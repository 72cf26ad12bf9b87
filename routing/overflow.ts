import type { OverflowStep } from "../db/schema/index.ts";

/**
 * The overflow steps due for an item that has waited `waitedSeconds` and had `applied` steps
 * applied: the next ones in order whose time has come. A move to another queue ends the list — the
 * item then follows the new queue's steps.
 */
export function dueSteps(steps: OverflowStep[], applied: number, waitedSeconds: number): OverflowStep[] {
  const due: OverflowStep[] = [];
  for (const step of steps.slice(applied)) {
    if (step.afterSeconds > waitedSeconds) break;
    due.push(step);
    if (step.action === "move_queue") break;
  }
  return due;
}
