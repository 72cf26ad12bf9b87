import { expect, it } from "bun:test";
import { queueFigures } from "./live.ts";

const at = (s: number) => new Date(Date.UTC(2026, 10, 25, 9, 0, s));

it("reports waiting, longest wait, service level, ASA and AHT the way a wallboard shows them", () => {
  const now = at(100);
  const figures = queueFigures(
    [
      { state: "done", enqueuedAt: at(0), answeredAt: at(10), endedAt: at(70), estimatedWaitSeconds: 20 }, // answered in 10 s, handled 60 s
      { state: "assigned", enqueuedAt: at(5), answeredAt: at(35), endedAt: null, estimatedWaitSeconds: 25 }, // answered in 30 s
      { state: "abandoned", enqueuedAt: at(20), answeredAt: null, endedAt: at(50) },
      { state: "waiting", enqueuedAt: at(40), answeredAt: null, endedAt: null }, // 60 s, past the target
      { state: "reserved", enqueuedAt: at(95), answeredAt: null, endedAt: null }, // 5 s, not judged yet
    ],
    20,
    now,
  );
  expect(figures).toEqual({
    waiting: 2,
    longestWaitS: 60,
    offered: 5,
    answered: 2,
    abandoned: 1,
    // 1 answered within 20 s, of 2 answered + 1 abandoned + 1 waiting past 20 s.
    serviceLevel: 0.25,
    asaS: 20,
    ahtS: 60,
    // Announced 20 s and 25 s; waited 10 s and 30 s.
    estimateErrorS: 7.5,
  });
  expect(queueFigures([], 20, now)).toMatchObject({ waiting: 0, longestWaitS: 0, serviceLevel: null, asaS: null });
});
