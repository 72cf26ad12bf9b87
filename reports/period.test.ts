import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { parseFilters, parseGroupBy, parsePeriod } from "./period.ts";

const fieldOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof Invalid ? err.field : String(err);
  }
  return "no error";
};

describe("parsePeriod", () => {
  it("takes ISO instants, from inclusive and to exclusive, in the workspace's zone unless tz says", () => {
    const p = parsePeriod({ from: "2026-03-01T00:00:00+08:00", to: "2026-03-08T00:00:00+08:00" }, "Asia/Shanghai");
    expect(p.from.toISOString()).toBe("2026-02-28T16:00:00.000Z");
    expect(p.tz).toBe("Asia/Shanghai");
    expect(parsePeriod({ from: "2026-03-01", to: "2026-03-02", tz: "America/New_York" }, "UTC").tz).toBe(
      "America/New_York",
    );
  });

  it("allows a year of 366 days and no more, and refuses a reversed or empty period", () => {
    expect(parsePeriod({ from: "2024-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z" }, "UTC").to.getUTCFullYear()).toBe(
      2025,
    );
    expect(fieldOf(() => parsePeriod({ from: "2024-01-01T00:00:00Z", to: "2025-01-02T00:00:01Z" }, "UTC"))).toBe("to");
    expect(fieldOf(() => parsePeriod({ from: "2026-03-02", to: "2026-03-01" }, "UTC"))).toBe("to");
    expect(fieldOf(() => parsePeriod({ from: "2026-03-02", to: "2026-03-02" }, "UTC"))).toBe("to");
    expect(fieldOf(() => parsePeriod({ from: "last week", to: "2026-03-02" }, "UTC"))).toBe("from");
    expect(fieldOf(() => parsePeriod({ from: "2026-03-01", to: "2026-13-45" }, "UTC"))).toBe("to");
    expect(fieldOf(() => parsePeriod({ from: "2026-03-01", to: "2026-03-02", tz: "Europe/Atlantis" }, "UTC"))).toBe(
      "tz",
    );
  });
});

describe("parseGroupBy and parseFilters", () => {
  it("knows the groupings and names a wrong one", () => {
    expect(parseGroupBy(undefined)).toBe("day");
    expect(parseGroupBy("weekday_hour")).toBe("weekday_hour");
    expect(fieldOf(() => parseGroupBy("week"))).toBe("groupBy");
  });

  it("splits comma lists and wants ids where ids go", () => {
    const id = "0b6c1c7e-8a55-4a53-9d1c-0d3f4c9b2a11";
    expect(parseFilters({ queueId: `${id}, ${id}`, channel: "voice,webchat" })).toEqual({
      queueId: [id, id],
      channel: ["voice", "webchat"],
    });
    expect(fieldOf(() => parseFilters({ agentId: "ann" }))).toBe("agentId");
    expect(fieldOf(() => parseFilters({ teamId: " , " }))).toBe("teamId");
  });
});
