import { describe, expect, it } from "bun:test";
import { instantOf, isTimeZone, wallClock, wallSlot } from "./local-time.ts";

const wall = (iso: string) => Date.parse(`${iso}Z`);

describe("wall-clock half-hours", () => {
  it("places an instant in its local half-hour, east and west of UTC", () => {
    expect(wallSlot(Date.parse("2026-11-02T02:14:59Z"), "Asia/Shanghai")).toBe(wall("2026-11-02T10:00:00"));
    expect(wallSlot(Date.parse("2026-11-02T02:45:00Z"), "Asia/Shanghai")).toBe(wall("2026-11-02T10:30:00"));
    // Kathmandu is UTC+5:45: its half-hours are not UTC's.
    expect(wallSlot(Date.parse("2026-11-02T04:20:00Z"), "Asia/Kathmandu")).toBe(wall("2026-11-02T10:00:00"));
    expect(wallClock(Date.parse("2026-11-02T04:20:00Z"), "America/New_York")).toBe(wall("2026-11-01T23:20:00"));
  });

  it("turns wall time back into instants across daylight saving", () => {
    expect(instantOf(wall("2026-11-02T10:00:00"), "Asia/Shanghai")).toBe(Date.parse("2026-11-02T02:00:00Z"));
    // New York springs forward at 02:00 on 8 March 2026: 02:30 never happens, and the instant given for it
    // does not show 02:30 on the clock, which is how the forecast knows to leave that interval out.
    const gap = instantOf(wall("2026-03-08T02:30:00"), "America/New_York");
    expect(wallClock(gap, "America/New_York")).not.toBe(wall("2026-03-08T02:30:00"));
    expect(instantOf(wall("2026-03-08T03:00:00"), "America/New_York")).toBe(Date.parse("2026-03-08T07:00:00Z"));
    // And falls back on 1 November: 01:30 happens twice, the first is used.
    expect(instantOf(wall("2026-11-01T01:30:00"), "America/New_York")).toBe(Date.parse("2026-11-01T05:30:00Z"));
  });

  it("knows a time zone from a typo", () => {
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });
});
