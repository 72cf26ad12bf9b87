import { expect, it } from "bun:test";
import { estimateWait, positionOf } from "./estimate.ts";
import type { WorkItem } from "./acd.ts";

const item = (id: string, priority: number, enqueuedAt: number): WorkItem => ({ id, queueId: "q", channel: "webchat", priority, enqueuedAt, requiredSkills: [] });

it("places an item where the ACD will take it: a VIP who just came in goes ahead of those waiting", () => {
  const waiting = [item("a", 0, 0), item("b", 0, 1000), item("vip", 10, 5000)];
  const now = 6000;
  expect(positionOf(waiting[2]!, waiting, now)).toBe(1);
  expect(positionOf(waiting[1]!, waiting, now)).toBe(3);
});

it("estimates the wait from the work ahead, the handle time and the seats that can take it", () => {
  // Third in line, 3-minute chats, 2 agents × 3 chats each: half a handle time.
  expect(estimateWait({ position: 3, ahtSeconds: 180, seats: 6 })).toBe(90);
  expect(estimateWait({ position: 1, ahtSeconds: 180, seats: 1 })).toBe(180);
  // Nobody who could take it is signed in: unknown, not a guess.
  expect(estimateWait({ position: 1, ahtSeconds: 180, seats: 0 })).toBeNull();
});
