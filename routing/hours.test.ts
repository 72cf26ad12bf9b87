import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { BusinessHoursInput, checkBusinessHours, isOpen } from "./hours.ts";

const shanghai = {
  timeZone: "Asia/Shanghai",
  weekly: {
    mon: [
      ["09:00", "12:00"],
      ["13:00", "18:00"],
    ] as [string, string][],
    sat: [["10:00", "16:00"]] as [string, string][],
  },
  holidays: ["2026-10-01"],
};

it("opens on the queue's local hours, not the server's", () => {
  // Monday 2026-11-23, 10:30 in Shanghai = 02:30 UTC.
  expect(isOpen(shanghai, new Date("2026-11-23T02:30:00Z"))).toBe(true);
  // 12:30 Shanghai: the lunch gap.
  expect(isOpen(shanghai, new Date("2026-11-23T04:30:00Z"))).toBe(false);
  // 18:00 Shanghai: closed at the end of the span.
  expect(isOpen(shanghai, new Date("2026-11-23T10:00:00Z"))).toBe(false);
  // Sunday: no hours listed.
  expect(isOpen(shanghai, new Date("2026-11-22T03:00:00Z"))).toBe(false);
  // Saturday 2026-11-21 at 01:00 UTC is Saturday 09:00 in Shanghai — before opening.
  expect(isOpen(shanghai, new Date("2026-11-21T01:00:00Z"))).toBe(false);
  expect(isOpen(shanghai, new Date("2026-11-21T03:00:00Z"))).toBe(true);
});

it("stays closed on a holiday and is always open without hours", () => {
  // Thursday 2026-10-01 (National Day), but Thursdays are not listed anyway: use a Monday holiday.
  const withMondayHoliday = { ...shanghai, holidays: ["2026-11-23"] };
  expect(isOpen(withMondayHoliday, new Date("2026-11-23T02:30:00Z"))).toBe(false);
  expect(isOpen(null, new Date())).toBe(true);
});

it("keeps a span that runs past midnight open into the next day, and takes 24:00 as midnight", () => {
  const night = { timeZone: "UTC", weekly: { mon: [["22:00", "06:00"]] as [string, string][] }, holidays: [] };
  // Monday 2026-11-30 23:00 and Tuesday 03:00 are open; Tuesday 07:00 and Monday 21:00 are not.
  expect(isOpen(night, new Date("2026-11-30T23:00:00Z"))).toBe(true);
  expect(isOpen(night, new Date("2026-12-01T03:00:00Z"))).toBe(true);
  expect(isOpen(night, new Date("2026-12-01T07:00:00Z"))).toBe(false);
  expect(isOpen(night, new Date("2026-11-30T21:00:00Z"))).toBe(false);
  // A holiday on the Monday drops the night that starts on it.
  expect(isOpen({ ...night, holidays: ["2026-11-30"] }, new Date("2026-12-01T03:00:00Z"))).toBe(false);
  const late = { timeZone: "UTC", weekly: { mon: [["18:00", "24:00"]] as [string, string][] }, holidays: [] };
  expect(isOpen(late, new Date("2026-11-30T23:59:00Z"))).toBe(true);
  expect(isOpen(late, new Date("2026-12-01T00:00:00Z"))).toBe(false);
});

describe("business hours as queues and the workspace calendar take them", () => {
  const field = (hours: unknown) => {
    try {
      checkBusinessHours(BusinessHoursInput.parse(hours), "businessHours.");
      return "ok";
    } catch (err) {
      return err instanceof Invalid ? err.field : String(err);
    }
  };

  it("accepts a night shift past midnight and 24:00, refuses a span of no length and an unknown zone", () => {
    expect(field({ timeZone: "Asia/Shanghai", weekly: { fri: [["22:00", "06:00"]], sat: [["18:00", "24:00"]] } })).toBe(
      "ok",
    );
    expect(field({ timeZone: "Asia/Shanghai", weekly: { mon: [["09:00", "09:00"]] } })).toBe(
      "businessHours.weekly.mon",
    );
    expect(field({ timeZone: "Mars/Olympus", weekly: {} })).toBe("businessHours.timeZone");
    expect(() => BusinessHoursInput.parse({ timeZone: "UTC", weekly: { mon: [["24:00", "06:00"]] } })).toThrow();
  });
});
