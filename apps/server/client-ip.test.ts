import { describe, expect, it } from "bun:test";
import { clientIpOf, isLoopback } from "./client-ip.ts";

describe("client IP", () => {
  it("ignores X-Forwarded-For unless a proxy is trusted", () => {
    expect(clientIpOf(0, "1.2.3.4", "10.0.0.9")).toBe("10.0.0.9");
    expect(clientIpOf(0, undefined, undefined)).toBe("unknown");
  });

  it("takes the entry the trusted proxy appended, not the leftmost one the client wrote", () => {
    // The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the real peer 203.0.113.7.
    expect(clientIpOf(1, "6.6.6.6, 203.0.113.7", "10.0.0.2")).toBe("203.0.113.7");
    expect(clientIpOf(1, "203.0.113.7", "10.0.0.2")).toBe("203.0.113.7");
  });

  it("counts TRUST_PROXY=n hops from the right", () => {
    expect(clientIpOf(2, "6.6.6.6, 203.0.113.7, 10.0.0.3", "10.0.0.2")).toBe("203.0.113.7");
    expect(clientIpOf(3, "203.0.113.7, 10.0.0.3", "10.0.0.2")).toBe("203.0.113.7");
    expect(clientIpOf(1, " , ", "10.0.0.2")).toBe("10.0.0.2");
  });

  it("knows loopback addresses in every spelling", () => {
    for (const ip of ["127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(ip)).toBe(true);
    for (const ip of ["10.0.0.1", "::ffff:10.0.0.1", "unknown", "1127.0.0.1"]) expect(isLoopback(ip)).toBe(false);
  });
});
