import { expect, it } from "bun:test";
import { estimateWait } from "./estimate.ts";

it("estimates the wait from the work ahead, the handle time and the seats that can take it", () => {
  // Third in line, 3-minute chats, 2 agents × 3 chats each: half a handle time.
  expect(estimateWait({ position: 3, ahtSeconds: 180, seats: 6 })).toBe(90);
  expect(estimateWait({ position: 1, ahtSeconds: 180, seats: 1 })).toBe(180);
  // Nobody who could take it is signed in: unknown, not a guess.
  expect(estimateWait({ position: 1, ahtSeconds: 180, seats: 0 })).toBeNull();
});
