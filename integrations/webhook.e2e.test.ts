import { afterEach, describe, expect, it } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createInbox } from "../conversations/inbox.ts";
import { ingestInbound } from "../conversations/ingest.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { until } from "../test/poll.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { webhookEventsOf } from "./webhook.ts";

type Received = {
  headers: Headers;
  raw: string;
  body: { id: string; type: string; createdAt: string; data: any };
  verified: boolean;
};

/** A customer's endpoint: checks each delivery's signature with the secret, answers `status`. */
function receiver() {
  const got: Received[] = [];
  const state = { status: 200, secret: "" };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const raw = await req.text();
      const timestamp = req.headers.get("x-switchboard-timestamp") ?? "";
      const given = req.headers.get("x-switchboard-signature") ?? "";
      const expected = `sha256=${createHmac("sha256", state.secret).update(`${timestamp}.${raw}`).digest("hex")}`;
      const verified =
        given.length === expected.length &&
        timingSafeEqual(Buffer.from(given), Buffer.from(expected)) &&
        Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
      got.push({ headers: req.headers, raw, body: JSON.parse(raw), verified });
      return new Response(state.status < 300 ? "ok" : "boom", { status: state.status });
    },
  });
  return { got, state, url: `http://127.0.0.1:${server.port}/hooks`, stop: () => server.stop(true) };
}

let s: TestServer | undefined;
let s2: TestServer | undefined;
let r: ReturnType<typeof receiver> | undefined;
afterEach(async () => {
  r?.stop();
  await s?.stop();
  await s2?.stop();
  s = undefined;
  s2 = undefined;
  r = undefined;
});

/** An SMS customer's message into `workspaceId`: a new conversation. */
async function customerWrites(server: TestServer, workspaceId: string, text: string) {
  const inbox = await createInbox(server.rt.core.db, server.rt.keyring, {
    workspaceId,
    channel: "sms",
    name: `SMS ${crypto.randomUUID().slice(0, 6)}`,
    credentials: { authToken: "sealed" },
  });
  const phone = `+1555${Math.floor(Math.random() * 1e7)
    .toString()
    .padStart(7, "0")}`;
  const result = await ingestInbound(server.rt.core, workspaceId, {
    channel: "sms",
    channelAccountId: inbox.id,
    externalId: `SM-${crypto.randomUUID()}`,
    from: { kind: "phone", value: phone },
    text,
  });
  return { conversationId: result.conversation.id, contactId: result.contactId };
}

async function register(server: TestServer, token: string, url: string, events: string[]) {
  const made = await api(`${server.url}/api/v1/webhooks`, { token, body: { url, events } });
  expect(made.status).toBe(201);
  return made.body as { id: string; secret: string; url: string; events: string[] };
}

describe("outgoing webhooks", () => {
  it("admins register, list and delete webhooks; bad input names the field; others may not", async () => {
    s = await startTestServer();
    const admin = await s.login(s.admin.email, s.admin.password);
    const agent = await s.login(s.agent.email, s.agent.password);
    const hook = await register(s, admin, "http://127.0.0.1:9/hooks", ["conversation.created", "message.created"]);
    expect(hook.secret).toMatch(/^whsec_/);
    expect(hook.events).toEqual(["conversation.created", "message.created"]);
    const list = await api(`${s.url}/api/v1/webhooks`, { token: admin });
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([expect.objectContaining({ id: hook.id, url: "http://127.0.0.1:9/hooks" })]);
    expect(JSON.stringify(list.body)).not.toContain(hook.secret);

    expect((await api(`${s.url}/api/v1/webhooks`, { token: agent })).status).toBe(403);
    expect(
      (
        await api(`${s.url}/api/v1/webhooks`, {
          token: agent,
          body: { url: "https://example.com", events: ["message.created"] },
        })
      ).status,
    ).toBe(403);
    const bad = async (body: unknown, field: string) => {
      const res = await api(`${s!.url}/api/v1/webhooks`, { token: admin, body });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toStartWith(field);
    };
    await bad({ url: "not a url", events: ["message.created"] }, "url");
    await bad({ url: "ftp://example.com/x", events: ["message.created"] }, "url");
    await bad({ url: "http://example.com/x", events: ["message.created"] }, "url");
    await bad({ url: "https://10.1.2.3/x", events: ["message.created"] }, "url");
    await bad({ url: "https://169.254.169.254/latest", events: ["message.created"] }, "url");
    await bad({ url: "https://example.com/x", events: ["nope"] }, "events");
    await bad({ url: "https://example.com/x", events: [] }, "events");

    expect((await api(`${s.url}/api/v1/webhooks/${hook.id}`, { token: admin, method: "DELETE" })).status).toBe(200);
    expect((await api(`${s.url}/api/v1/webhooks/${hook.id}`, { token: admin, method: "DELETE" })).status).toBe(404);
    expect((await api(`${s.url}/api/v1/webhooks`, { token: admin })).body.items).toEqual([]);
  });

  it("delivers the workspace's events signed, with {id, type, createdAt, data}, and lists them", async () => {
    s = await startTestServer();
    r = receiver();
    const admin = await s.login(s.admin.email, s.admin.password);
    const hook = await register(s, admin, r.url, [
      "conversation.created",
      "message.created",
      "conversation.resolved",
      "contact.updated",
    ]);
    r.state.secret = hook.secret;
    // Another workspace's customer, on the same node and bus: never delivered here.
    const other = await createWorkspace(s.rt.core.db, `Other ${crypto.randomUUID().slice(0, 8)}`);
    const { conversationId: otherConversation } = await customerWrites(s, other.id, "not yours");
    const { conversationId, contactId } = await customerWrites(s, s.workspaceId, "where is my parcel");

    await until(
      async () => r!.got.length,
      (n) => n >= 2,
    );
    const created = r.got.find((g) => g.body.type === "conversation.created")!;
    const message = r.got.find((g) => g.body.type === "message.created")!;
    expect(created.verified).toBe(true);
    expect(message.verified).toBe(true);
    expect(created.body.data.conversation.id).toBe(conversationId);
    expect(created.body.data.conversation.scope).toBeUndefined();
    expect(message.body).toMatchObject({
      type: "message.created",
      data: { conversationId, item: { type: "message", direction: "in", text: "where is my parcel" } },
    });
    expect(Number.isNaN(Date.parse(message.body.createdAt))).toBe(false);
    expect(message.headers.get("content-type")).toContain("application/json");

    // A note is no message; resolving sends conversation.resolved (conversation.updated was not chosen).
    const note = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "internal only", private: true },
    });
    expect(note.status).toBeLessThan(300);
    const resolved = await api(`${s.url}/api/v1/conversations/${conversationId}/status`, {
      token: admin,
      body: { status: "resolved" },
    });
    expect(resolved.status).toBe(200);
    await until(
      async () => r!.got.map((g) => g.body.type),
      (types) => types.includes("conversation.resolved"),
    );
    const resolvedEvent = r.got.find((g) => g.body.type === "conversation.resolved")!;
    expect(resolvedEvent.verified).toBe(true);
    expect(resolvedEvent.body.data.conversation).toMatchObject({ id: conversationId, status: "resolved" });
    expect(r.got.filter((g) => g.body.type === "conversation.updated")).toEqual([]);
    expect(r.got.some((g) => g.body.data?.item?.text === "internal only")).toBe(false);
    expect(r.got.some((g) => g.raw.includes(otherConversation) || g.raw.includes("not yours"))).toBe(false);

    const renamed = await api(`${s.url}/api/v1/contacts/${contactId}`, {
      token: admin,
      method: "PATCH",
      body: { name: "Parcel Person" },
    });
    expect(renamed.status).toBe(200);
    await until(
      async () => r!.got.map((g) => g.body.type),
      (types) => types.includes("contact.updated"),
    );
    const contactEvent = r.got.find((g) => g.body.type === "contact.updated")!;
    expect(contactEvent.verified).toBe(true);
    expect(contactEvent.body.data.contact).toMatchObject({ id: contactId, name: "Parcel Person" });

    const deliveries = await until(
      async () => (await api(`${s!.url}/api/v1/webhooks/${hook.id}/deliveries`, { token: admin })).body.items as any[],
      (items) => items.length === 4 && items.every((d) => d.status === "delivered"),
    );
    expect(deliveries).toHaveLength(4);
    for (const d of deliveries)
      expect(d).toMatchObject({ status: "delivered", attempts: 1, responseStatus: 200, lastError: null });
    expect(deliveries.map((d) => d.id).sort()).toEqual(r.got.map((g) => g.body.id).sort());
    // Each event once, although the bus may repeat it.
    expect(new Set(r.got.map((g) => g.body.id)).size).toBe(r.got.length);
  });

  it("retries a failing URL with backoff, then fails with its status; a re-send by hand delivers it", async () => {
    s = await startTestServer();
    r = receiver();
    r.state.status = 500;
    const admin = await s.login(s.admin.email, s.admin.password);
    const hook = await register(s, admin, r.url, ["conversation.created"]);
    r.state.secret = hook.secret;
    await customerWrites(s, s.workspaceId, "hello?");
    // Test servers wait 20, 50 and 100 ms between attempts: four attempts, then failed.
    const [failed] = await until(
      async () => (await api(`${s!.url}/api/v1/webhooks/${hook.id}/deliveries`, { token: admin })).body.items as any[],
      (items) => items[0]?.status === "failed",
    );
    expect(failed).toMatchObject({
      type: "conversation.created",
      status: "failed",
      attempts: 4,
      responseStatus: 500,
      lastError: "HTTP 500",
      deliveredAt: null,
      nextAttemptAt: null,
    });
    expect(r.got).toHaveLength(4);
    expect(r.got.every((g) => g.verified && g.body.id === failed.id)).toBe(true);

    r.state.status = 204;
    const resent = await api(`${s.url}/api/v1/webhooks/${hook.id}/deliveries/${failed.id}/resend`, {
      token: admin,
      method: "POST",
    });
    expect(resent.status).toBe(200);
    // Pending again: when it is tried next is shown (now).
    expect(Date.parse(resent.body.nextAttemptAt)).toBeLessThanOrEqual(Date.now() + 1000);
    const [delivered] = await until(
      async () => (await api(`${s!.url}/api/v1/webhooks/${hook.id}/deliveries`, { token: admin })).body.items as any[],
      (items) => items[0]?.status === "delivered",
    );
    expect(delivered).toMatchObject({
      id: failed.id,
      status: "delivered",
      attempts: 1,
      responseStatus: 204,
      nextAttemptAt: null,
    });
    expect(delivered.deliveredAt).toBeString();
    expect(r.got).toHaveLength(5);

    const missing = await api(`${s.url}/api/v1/webhooks/${hook.id}/deliveries/${crypto.randomUUID()}/resend`, {
      token: admin,
      method: "POST",
    });
    expect(missing.status).toBe(404);
  });

  it("delivers each event once when two nodes hear it and both workers poll", async () => {
    s = await startTestServer();
    // A second node on the same database: on PostgreSQL it hears the first node's events by NOTIFY
    // and writes their deliveries too; the (webhook, event) key keeps one, and either worker sends it.
    s2 = await startTestServer();
    r = receiver();
    const admin = await s.login(s.admin.email, s.admin.password);
    const hook = await register(s, admin, r.url, ["conversation.created", "message.created"]);
    r.state.secret = hook.secret;
    for (let i = 0; i < 5; i++) await customerWrites(s, s.workspaceId, `message ${i}`);
    const deliveries = await until(
      async () => (await api(`${s!.url}/api/v1/webhooks/${hook.id}/deliveries`, { token: admin })).body.items as any[],
      (items) => items.length === 10 && items.every((d) => d.status === "delivered"),
    );
    expect(deliveries).toHaveLength(10);
    expect(r.got).toHaveLength(10);
    expect(new Set(r.got.map((g) => g.body.id)).size).toBe(10);
    expect(r.got.every((g) => g.verified)).toBe(true);
  });

  it("maps domain events to webhook events: resolved beside updated, messages but not notes", () => {
    const base = { workspaceId: "w", seq: 7, conversationId: "c", public: false };
    expect(
      webhookEventsOf({
        ...base,
        type: "conversation.updated",
        payload: { conversation: { id: "c" }, changes: { from: "open", to: "resolved" }, scope: {} },
      }).map((e) => [e.type, e.eventId]),
    ).toEqual([
      ["conversation.updated", "7"],
      ["conversation.resolved", "7.resolved"],
    ]);
    expect(webhookEventsOf({ ...base, type: "item.created", payload: { item: { type: "note" } } })).toEqual([]);
    expect(webhookEventsOf({ ...base, type: "typing", ephemeral: true, payload: {} })).toEqual([]);
  });
});
