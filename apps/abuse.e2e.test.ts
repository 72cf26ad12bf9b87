import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { api, startTestServer, type TestServer } from "../test/server.ts";

/** Anonymous limits over real HTTP: client addresses, sign-in, uploads, help center, tokens, metrics. */

describe("client address behind a trusted proxy", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ widgetIpRate: 1, env: { TRUST_PROXY: "1" } });
  });
  afterAll(() => s.stop());

  it("limits by the address the proxy appended, whatever the client put in front of it", async () => {
    // WIDGET_IP_RATE=1 allows a burst of 5, then one a second. A client rotating a forged leftmost
    // entry used to get a fresh bucket on every request: all twelve passed.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await api(`${s.url}/widget/v1/sessions`, {
        body: { inboxKey: s.inbox.publicKey },
        headers: { "x-forwarded-for": `198.51.100.${i}, 203.0.113.7` },
      });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.filter((st) => st === 429).length).toBeGreaterThan(3);
    // Another client behind the same proxy has its own allowance.
    const other = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey }, headers: { "x-forwarded-for": "203.0.113.8" } });
    expect(other.status).toBe(200);
  });
});
