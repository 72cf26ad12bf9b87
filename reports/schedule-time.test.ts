import { describe, expect, it } from "bun:test";
import { nextRunAt, reportPeriod } from "./schedule-time.ts";

describe("scheduled report times", () => {
  it("runs a daily report at the next local hour, today if it is still ahead, else tomorrow", () => {
    const daily = { frequency: "daily" as const, weekday: null, hour: 7 };
    // 06:30 in Shanghai (UTC+8) is 22:30 UTC the day before.
    expect(nextRunAt(daily, "Asia/Shanghai", new Date("2026-03-09T22:30:00Z")).toISOString()).toBe(
      "2026-03-09T23:00:00.000Z",
    );
    expect(nextRunAt(daily, "Asia/Shanghai", new Date("2026-03-09T23:00:00Z")).toISOString()).toBe(
      "2026-03-10T23:00:00.000Z",
    );
    expect(nextRunAt(daily, "UTC", new Date("2026-03-10T08:00:00Z")).toISOString()).toBe("2026-03-11T07:00:00.000Z");
  });

  it("runs a weekly report on its weekday, keeping the local hour across a daylight-saving change", () => {
    // Monday 07:00 in New York: EST (UTC−5) before 8 March 2026, EDT (UTC−4) after.
    const weekly = { frequency: "weekly" as const, weekday: 1, hour: 7 };
    const first = nextRunAt(weekly, "America/New_York", new Date("2026-03-04T12:00:00Z"));
    expect(first.toISOString()).toBe("2026-03-09T11:00:00.000Z");
    const before = nextRunAt(weekly, "America/New_York", new Date("2026-02-25T12:00:00Z"));
    expect(before.toISOString()).toBe("2026-03-02T12:00:00.000Z");
    expect(nextRunAt(weekly, "America/New_York", first).toISOString()).toBe("2026-03-16T11:00:00.000Z");
  });

  it("reports on the local day before the run, or the seven days before it", () => {
    const run = new Date("2026-03-10T23:00:00Z"); // 11 March 07:00 in Shanghai
    expect(reportPeriod("daily", run, "Asia/Shanghai")).toEqual({
      from: new Date("2026-03-09T16:00:00Z"),
      to: new Date("2026-03-10T16:00:00Z"),
    });
    expect(reportPeriod("weekly", run, "Asia/Shanghai")).toEqual({
      from: new Date("2026-03-03T16:00:00Z"),
      to: new Date("2026-03-10T16:00:00Z"),
    });
  });
});
