import { describe, expect, it } from "bun:test";
import { hourLabel, periodOf, startOfDate } from "./report-period.ts";

describe("report periods in the workspace's time zone", () => {
  const now = Date.parse("2026-03-10T20:00:00Z"); // 11 March 04:00 in Shanghai, 10 March 16:00 in New York

  it("starts today and yesterday at the workspace's midnight, not the browser's", () => {
    expect(periodOf("today", "Asia/Shanghai", { from: "", to: "" }, now)).toEqual({
      from: new Date("2026-03-10T16:00:00Z"),
      to: new Date("2026-03-11T16:00:00Z"),
      firstDay: "2026-03-11",
      lastDay: "2026-03-11",
    });
    const y = periodOf("yesterday", "America/New_York", { from: "", to: "" }, now)!;
    expect([y.from.toISOString(), y.to.toISOString()]).toEqual([
      "2026-03-09T04:00:00.000Z",
      "2026-03-10T04:00:00.000Z",
    ]);
  });

  it("counts the last 7 days with today, across a daylight-saving change", () => {
    const p = periodOf("7d", "America/New_York", { from: "", to: "" }, now)!;
    // 4 March 00:00 EST is 05:00 UTC; 11 March 00:00 EDT is 04:00 UTC.
    expect([p.from.toISOString(), p.to.toISOString()]).toEqual([
      "2026-03-04T05:00:00.000Z",
      "2026-03-11T04:00:00.000Z",
    ]);
    expect(startOfDate("2026-03-08", "America/New_York")).toBe(Date.parse("2026-03-08T05:00:00Z"));
  });

  it("refuses a custom period that ends before it starts or runs past a year", () => {
    expect(periodOf("custom", "UTC", { from: "2026-03-10", to: "2026-03-09" }, now)).toBeNull();
    expect(periodOf("custom", "UTC", { from: "2025-01-01", to: "2026-03-09" }, now)).toBeNull();
    expect(periodOf("custom", "UTC", { from: "2026-03-01", to: "2026-03-01" }, now)!.to.toISOString()).toBe(
      "2026-03-02T00:00:00.000Z",
    );
  });

  it("labels an hour bucket in the workspace's time", () => {
    expect(hourLabel("2026-03-10T16:00:00Z", "Asia/Shanghai")).toBe("03-11 00:00");
  });
});
