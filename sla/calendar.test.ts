import { describe, expect, it } from "bun:test";
import type { BusinessHours } from "../db/schema/index.ts";
import { isOpen } from "../routing/hours.ts";
import { addBusinessTime, businessTimeBetween, isBusinessTime } from "./calendar.ts";

const H = 3_600_000;
const at = (iso: string) => new Date(iso);
const span = (from: string, to: string): [string, string][] => [[from, to]];
const weekdays = (timeZone: string, from = "09:00", to = "17:00", holidays: string[] = []): BusinessHours => ({
  timeZone,
  weekly: { mon: span(from, to), tue: span(from, to), wed: span(from, to), thu: span(from, to), fri: span(from, to) },
  holidays,
});
const allDay = (timeZone: string, day: string): BusinessHours => ({
  timeZone,
  weekly: { [day]: span("00:00", "24:00") },
  holidays: [],
});

describe("calendar time", () => {
  it("adds plain milliseconds without hours", () => {
    expect(addBusinessTime(null, at("2026-03-07T23:00:00Z"), 30_000).toISOString()).toBe("2026-03-07T23:00:30.000Z");
    expect(businessTimeBetween(null, at("2026-03-07T23:00:00Z"), at("2026-03-08T01:00:00Z"))).toBe(2 * H);
  });
});

describe("business hours", () => {
  it("skips the weekend", () => {
    // Friday 2026-11-27 16:00 UTC + 2 h of 09–17 → Monday 10:00.
    const due = addBusinessTime(weekdays("UTC"), at("2026-11-27T16:00:00Z"), 2 * H);
    expect(due.toISOString()).toBe("2026-11-30T10:00:00.000Z");
    expect(businessTimeBetween(weekdays("UTC"), at("2026-11-27T16:00:00Z"), due)).toBe(2 * H);
  });

  it("starts counting at opening when started outside hours", () => {
    expect(addBusinessTime(weekdays("UTC"), at("2026-11-30T06:00:00Z"), 30 * 60_000).toISOString()).toBe(
      "2026-11-30T09:30:00.000Z",
    );
  });

  it("runs a span across midnight into the next day", () => {
    const night: BusinessHours = { timeZone: "UTC", weekly: { mon: span("22:00", "06:00") }, holidays: [] };
    // Monday 2026-11-30 23:00 + 5 h → Tuesday 04:00.
    expect(addBusinessTime(night, at("2026-11-30T23:00:00Z"), 5 * H).toISOString()).toBe("2026-12-01T04:00:00.000Z");
    // Tuesday 05:00 + 2 h: one hour left tonight, the next at Monday 22:00 → 23:00.
    expect(addBusinessTime(night, at("2026-12-01T05:00:00Z"), 2 * H).toISOString()).toBe("2026-12-07T23:00:00.000Z");
    expect(isBusinessTime(night, at("2026-12-01T03:00:00Z"))).toBe(true);
    expect(isOpen(night, at("2026-12-01T03:00:00Z"))).toBe(true);
    expect(isOpen(night, at("2026-12-01T07:00:00Z"))).toBe(false);
  });

  it("takes 24:00 as midnight and joins it to the next day's span", () => {
    const evening: BusinessHours = {
      timeZone: "UTC",
      weekly: { mon: span("18:00", "24:00"), tue: span("00:00", "02:00") },
      holidays: [],
    };
    expect(addBusinessTime(evening, at("2026-11-30T23:00:00Z"), 2 * H).toISOString()).toBe("2026-12-01T01:00:00.000Z");
    expect(isOpen(evening, at("2026-11-30T23:59:00Z"))).toBe(true);
    expect(isBusinessTime(evening, at("2026-11-30T23:59:00Z"))).toBe(true);
  });

  it("leaves out holidays in the calendar's own time zone", () => {
    // Shanghai 09–17 with Monday 2026-11-30 a holiday: Friday 16:00 local + 2 h → Tuesday 10:00 local.
    const hours = weekdays("Asia/Shanghai", "09:00", "17:00", ["2026-11-30"]);
    expect(addBusinessTime(hours, at("2026-11-27T08:00:00Z"), 2 * H).toISOString()).toBe("2026-12-01T02:00:00.000Z");
    expect(isOpen(hours, at("2026-11-30T02:00:00Z"))).toBe(false);
  });

  it("counts the short and long days of New York's DST changes", () => {
    const spring = allDay("America/New_York", "sun");
    // Sunday 2026-03-08: 23 hours from local midnight (05:00Z) to the next (04:00Z).
    expect(businessTimeBetween(spring, at("2026-03-07T00:00:00Z"), at("2026-03-10T00:00:00Z"))).toBe(23 * H);
    // 01:00–04:00 local is two real hours that day.
    const early: BusinessHours = {
      timeZone: "America/New_York",
      weekly: { sun: span("01:00", "04:00") },
      holidays: [],
    };
    expect(businessTimeBetween(early, at("2026-03-08T00:00:00Z"), at("2026-03-09T00:00:00Z"))).toBe(2 * H);
    expect(addBusinessTime(early, at("2026-03-08T06:00:00Z"), 2 * H).toISOString()).toBe("2026-03-08T08:00:00.000Z");
    // Sunday 2026-11-01 is 25 hours long, and 01:00–03:00 local three real hours.
    const fall = allDay("America/New_York", "sun");
    expect(businessTimeBetween(fall, at("2026-10-31T00:00:00Z"), at("2026-11-03T00:00:00Z"))).toBe(25 * H);
    expect(businessTimeBetween(early, at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"))).toBe(4 * H);
    // 9–17 on the Monday after the change is 14:00Z–22:00Z (EST), not EDT's 13:00Z.
    expect(addBusinessTime(weekdays("America/New_York"), at("2026-11-01T12:00:00Z"), H).toISOString()).toBe(
      "2026-11-02T15:00:00.000Z",
    );
  });

  it("counts Berlin's DST days (last Sundays of March and October)", () => {
    expect(
      businessTimeBetween(allDay("Europe/Berlin", "sun"), at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z")),
    ).toBe(23 * H);
    expect(
      businessTimeBetween(allDay("Europe/Berlin", "sun"), at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z")),
    ).toBe(25 * H);
  });

  it("re-plans a paused clock from what was left", () => {
    const hours = weekdays("UTC");
    // Started Monday 09:00 with 4 h: due 13:00; paused at 11:00 with 2 h left.
    const due = addBusinessTime(hours, at("2026-11-30T09:00:00Z"), 4 * H);
    expect(due.toISOString()).toBe("2026-11-30T13:00:00.000Z");
    const left = businessTimeBetween(hours, at("2026-11-30T11:00:00Z"), due);
    expect(left).toBe(2 * H);
    // Resumed Tuesday 16:00: one hour that day, the other Wednesday 09:00–10:00.
    expect(addBusinessTime(hours, at("2026-12-01T16:00:00Z"), left).toISOString()).toBe("2026-12-02T10:00:00.000Z");
  });

  it("falls back to calendar time when a calendar has no open hour, and adds nothing for zero", () => {
    const closed: BusinessHours = { timeZone: "UTC", weekly: {}, holidays: [] };
    expect(addBusinessTime(closed, at("2026-11-30T09:00:00Z"), H).toISOString()).toBe("2026-11-30T10:00:00.000Z");
    expect(addBusinessTime(weekdays("UTC"), at("2026-11-28T09:00:00Z"), 0).toISOString()).toBe(
      "2026-11-28T09:00:00.000Z",
    );
    expect(businessTimeBetween(weekdays("UTC"), at("2026-11-28T00:00:00Z"), at("2026-11-29T23:00:00Z"))).toBe(0);
  });
});

it("adds time on a calendar that is always open (every day 00:00–24:00)", () => {
  const always: BusinessHours = {
    timeZone: "Asia/Shanghai",
    weekly: Object.fromEntries(
      ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => [d, span("00:00", "24:00")]),
    ),
    holidays: [],
  };
  expect(addBusinessTime(always, at("2026-11-30T09:00:00Z"), 50 * H).toISOString()).toBe("2026-12-02T11:00:00.000Z");
  expect(businessTimeBetween(always, at("2026-11-30T09:00:00Z"), at("2026-12-02T11:00:00Z"))).toBe(50 * H);
});
