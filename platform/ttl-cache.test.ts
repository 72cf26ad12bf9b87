import { describe, expect, it } from "bun:test";
import { TtlCache } from "./ttl-cache.ts";

describe("TtlCache", () => {
  it("keeps a value for its time to live, then reads again", async () => {
    let now = 1_000;
    const cache = new TtlCache<string, number>(5_000, 10, () => now);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.getOr("a", load)).toBe(1);
    now += 4_999;
    expect(await cache.getOr("a", load)).toBe(1);
    now += 1;
    expect(await cache.getOr("a", load)).toBe(2);
    cache.delete("a");
    expect(cache.get("a")).toBeUndefined();
  });

  it("never keeps 'not found' or a failed load", async () => {
    const cache = new TtlCache<string, string>(5_000);
    expect(await cache.getOr("x", async () => undefined)).toBeUndefined();
    expect(await cache.getOr("x", async () => "made since")).toBe("made since");
    await expect(cache.getOr("y", async () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(cache.get("y")).toBeUndefined();
  });

  it("starts again empty rather than growing past its bound", () => {
    const cache = new TtlCache<number, number>(60_000, 3);
    for (let i = 0; i < 3; i++) cache.set(i, i);
    expect(cache.get(2)).toBe(2);
    cache.set(3, 3);
    expect(cache.get(0)).toBeUndefined();
    expect(cache.get(3)).toBe(3);
  });
});
