import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { verifySignature } from "../../../channels/api/index.ts";
import { inboxes } from "../../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { DEMO_API_INBOX, seedDemo } from "../../demo/seed.ts";

let s: TestServer;
let admin: string;
/** What the test receiver got, and what it answers next. */
const received: { headers: Headers; body: string }[] = [];
let answer = 200;
let receiver: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.signInAs("admin");
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      received.push({ headers: req.headers, body: await req.text() });
      return new Response(answer === 200 ? "ok" : "down", { status: answer });
    },
  });
}, 120_000);
afterAll(async () => {
  receiver.stop(true);
  await s.stop();
});

async function until<T>(what: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await what();
    if (got) return got;
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}

async function apiInbox(name = "My app") {
  const res = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: { name, channel: "api", callbackUrl: `http://127.0.0.1:${receiver.port}/callback` },
  });
  expect(res.status).toBe(201);
  return res.body as { id: string; token: string; secret: string; channel: string; callbackUrl: string };
}

const post = (inboxId: string, token: string | undefined, body: unknown) =>
  api(`${s.url}/api/v1/inboxes/${inboxId}/messages`, { token, body });

describe("the API channel", () => {
  it("creates an API inbox with its token and secret shown once", async () => {
    const inbox = await apiInbox();
    expect(inbox.channel).toBe("api");
    expect(inbox.token).toMatch(/^sbi_/);
    expect(inbox.secret).toMatch(/^sbs_/);
    const listed = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items.find(
      (i: { id: string }) => i.id === inbox.id,
    );
    expect(listed.callbackUrl).toBe(inbox.callbackUrl);
    expect(listed.token).toBeUndefined();
    expect(listed.secret).toBeUndefined();
    expect(JSON.stringify(listed)).not.toContain(inbox.token);
  });

  it("refuses a callback URL that is not http(s) or points inside, naming the field", async () => {
    for (const callbackUrl of [
      "ftp://example.com/x",
      "not a url",
      "http://example.com/plain-http",
      "https://169.254.169.254/latest",
      "https://10.0.0.1/cb",
      undefined,
    ]) {
      const res = await api(`${s.url}/api/v1/inboxes`, {
        token: admin,
        body: { name: "x", channel: "api", callbackUrl },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe("callbackUrl");
    }
    const agent = await s.signInAs("agent");
    const res = await api(`${s.url}/api/v1/inboxes`, {
      token: agent,
      body: { name: "x", channel: "api", callbackUrl: "https://example.com/cb" },
    });
    expect(res.status).toBe(403);
  });

  it("takes a customer's message with the inbox token, idempotent on externalId", async () => {
    const inbox = await apiInbox();
    const message = {
      contact: { identifier: `user-${crypto.randomUUID()}`, name: "Ada Lovelace", email: "ada@example.test" },
      text: "Hello from our app",
      externalId: "msg-1",
    };
    const first = await post(inbox.id, inbox.token, message);
    expect(first.status).toBe(201);
    expect(Object.keys(first.body).sort()).toEqual(["contactId", "conversationId", "itemId"]);
    const again = await post(inbox.id, inbox.token, message);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const list = await api(`${s.url}/api/v1/conversations?channel=api`, { token: admin });
    const conversation = list.body.items.find((c: { id: string }) => c.id === first.body.conversationId);
    expect(conversation.channel).toBe("api");
    const timeline = await api(`${s.url}/api/v1/conversations/${first.body.conversationId}/timeline`, {
      token: admin,
    });
    expect(timeline.body.items.filter((i: { type: string }) => i.type === "message")).toHaveLength(1);
    const contact = await api(`${s.url}/api/v1/contacts/${first.body.contactId}`, { token: admin });
    expect(contact.body.name).toBe("Ada Lovelace");
    const kinds = JSON.stringify(contact.body);
    expect(kinds).toContain(message.contact.identifier);
    expect(kinds).toContain("ada@example.test");

    // Without externalId each post is a message of its own, in the same open conversation.
    const other = await post(inbox.id, inbox.token, { contact: message.contact, text: "second" });
    expect(other.status).toBe(201);
    expect(other.body.conversationId).toBe(first.body.conversationId);
    expect(other.body.itemId).not.toBe(first.body.itemId);
  });

  it("answers 401 without the inbox's own token, and 400 naming a missing field", async () => {
    const inbox = await apiInbox();
    const otherInbox = await apiInbox("Other app");
    const message = { contact: { identifier: "u1" }, text: "hi" };
    for (const token of [undefined, "sbi_wrong", otherInbox.token, admin]) {
      const res = await post(inbox.id, token, message);
      expect(res.status).toBe(401);
      expect(res.body.error).toBeDefined();
    }
    // The web chat inbox is not an API inbox, whatever the token.
    expect((await post(s.inbox.id, inbox.token, message)).status).toBe(401);
    // A malformed id is a 404, as on every route that takes an id.
    expect((await post("not-a-uuid", inbox.token, message)).status).toBe(404);
    const missing = await post(inbox.id, inbox.token, { contact: { name: "No id" }, text: "hi" });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe("contact.identifier");
    const noContact = await post(inbox.id, inbox.token, { text: "hi" });
    expect(noContact.status).toBe(400);
    expect(noContact.body.error.field).toBe("contact");
    expect((await post(inbox.id, inbox.token, "not json")).status).toBe(400);
  });

  it("POSTs an agent's reply to the callback URL, signed with the inbox secret", async () => {
    const inbox = await apiInbox();
    const identifier = `user-${crypto.randomUUID()}`;
    const posted = await post(inbox.id, inbox.token, { contact: { identifier, name: "Bob" }, text: "help" });
    answer = 200;
    received.length = 0;
    const reply = await api(`${s.url}/api/v1/conversations/${posted.body.conversationId}/messages`, {
      token: admin,
      body: { text: "Happy to help" },
    });
    expect(reply.status).toBe(201);
    const got = await until(async () => received.find((r) => r.body.includes(posted.body.conversationId)));
    const ok = verifySignature(
      inbox.secret,
      { timestamp: got.headers.get("x-switchboard-timestamp"), signature: got.headers.get("x-switchboard-signature") },
      got.body,
    );
    expect(ok).toBe(true);
    expect(got.headers.get("x-switchboard-signature")).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(
      verifySignature(
        "another secret",
        {
          timestamp: got.headers.get("x-switchboard-timestamp"),
          signature: got.headers.get("x-switchboard-signature"),
        },
        got.body,
      ),
    ).toBe(false);
    const event = JSON.parse(got.body);
    expect(event).toMatchObject({
      type: "message.created",
      data: {
        conversationId: posted.body.conversationId,
        text: "Happy to help",
        attachments: [],
        contact: { id: posted.body.contactId, identifier, name: "Bob" },
      },
    });
    expect(typeof event.id).toBe("string");
    expect(new Date(event.createdAt).toISOString()).toBe(event.createdAt);
    const itemId = event.data.itemId;
    const delivered = await until(async () => {
      const t = await api(`${s.url}/api/v1/conversations/${posted.body.conversationId}/timeline`, { token: admin });
      const item = t.body.items.find((i: { id: string }) => i.id === itemId);
      return item?.status === "delivered" && item;
    });
    expect(delivered.text).toBe("Happy to help");
  });

  it("retries a callback that answers 500, then marks the reply failed with the status", async () => {
    const inbox = await apiInbox();
    const posted = await post(inbox.id, inbox.token, {
      contact: { identifier: `u-${crypto.randomUUID()}` },
      text: "x",
    });
    answer = 500;
    received.length = 0;
    const reply = await api(`${s.url}/api/v1/conversations/${posted.body.conversationId}/messages`, {
      token: admin,
      body: { text: "Will fail" },
    });
    expect(reply.status).toBe(201);
    const failed = await until(async () => {
      const t = await api(`${s.url}/api/v1/conversations/${posted.body.conversationId}/timeline`, { token: admin });
      const item = t.body.items.find((i: { text: string | null }) => i.text === "Will fail");
      return item?.status === "failed" && item;
    }, 20_000);
    expect(failed.error).toContain("500");
    const attempts = received.filter((r) => r.body.includes(posted.body.conversationId));
    expect(attempts.length).toBeGreaterThan(1);
    // Every attempt is the same event: receivers dedupe on its id.
    expect(new Set(attempts.map((a) => JSON.parse(a.body).id)).size).toBe(1);
    answer = 200;
  }, 30_000);
});

describe("the demo API inbox", () => {
  it("takes a customer message posted with its fixed token, and no other token", async () => {
    // The demo joins the oldest workspace of the database, which other test files may share: found
    // by its callback URL wherever it went.
    await seedDemo(s.rt);
    const [demo] = await s.rt.core.db
      .select({ id: inboxes.id })
      .from(inboxes)
      .where(and(eq(inboxes.channel, "api"), sql`${inboxes.settings}->>'callbackUrl' = ${DEMO_API_INBOX.callbackUrl}`));
    expect(demo).toBeDefined();
    const post = (token: string) =>
      api(`${s.url}/api/v1/inboxes/${demo!.id}/messages`, {
        token,
        body: { contact: { identifier: "demo-app-user-1", name: "App user" }, text: "Hello from our app" },
      });
    expect((await post("sbi_not-the-demo-token")).status).toBe(401);
    const res = await post(DEMO_API_INBOX.token);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ conversationId: expect.any(String), itemId: expect.any(String) });
  });
});
