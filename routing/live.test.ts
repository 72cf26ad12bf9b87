import { expect, it } from "bun:test";
import { alertsFor, queueFigures } from "./live.ts";

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
    handled: 1,
    // 1 answered within 20 s, of 2 answered + 1 abandoned + 1 waiting past 20 s.
    serviceLevel: 0.25,
    asaS: 20,
    ahtS: 60,
    // Announced 20 s and 25 s; waited 10 s and 30 s.
    estimateErrorS: 7.5,
  });
  expect(queueFigures([], 20, now)).toMatchObject({ waiting: 0, longestWaitS: 0, serviceLevel: null, asaS: null });
});

it("alerts when a queue grows past 10 or its longest wait passes the queue's limit (60 s by default)", () => {
  expect(alertsFor({ waiting: 3, longestWaitS: 30 }, null)).toEqual([]);
  expect(alertsFor({ waiting: 11, longestWaitS: 61.4 }, null)).toEqual([
    { kind: "waiting", value: 11, threshold: 10 },
    { kind: "longest_wait", value: 61, threshold: 60 },
  ]);
  expect(alertsFor({ waiting: 1, longestWaitS: 20 }, 15)).toEqual([{ kind: "longest_wait", value: 20, threshold: 15 }]);
});
