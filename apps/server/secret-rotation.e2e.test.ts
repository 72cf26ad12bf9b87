import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { twilioSignature } from "../../channels/voice/verify.ts";
import { inboxes } from "../../db/schema/index.ts";
import { Keyring } from "../../platform/crypto.ts";
import { until } from "../../test/poll.ts";
import { api, startTestServer, TEST_SECRET, type TestServer } from "../../test/server.ts";
import { startTwilioNumberList, startVoice } from "../../test/voice.ts";

/**
 * SECRET_KEY rotation and loss (issue 18 item 24), on one database: a node with the first key seals
 * credentials and signs a visitor token; a node with a new key and the old one as SECRET_KEY_PREVIOUS
 * opens all of it and seals it again; a node with a key that opens none of it still serves everyone
 * else, names the inbox to repair, gives the visitor a new session, and lets the admin re-enter.
 */

const ROTATED = "the-second-secret-key-long-enough-0123456789";
const STRANGER = "a-key-that-never-sealed-anything-0123456789";
const keyId = (secret: string) => new Keyring(secret).seal("x").split(".")[1];

let first: TestServer;
let voice: Awaited<ReturnType<typeof startVoice>>;
let emailInboxId: string;
let visitor: { token: string; contactId: string };
const servers: TestServer[] = [];
const tag = crypto.randomUUID().slice(0, 8);
const emailSettings = { address: `keys-${tag}@acme.test`, smtp: { host: "127.0.0.1", port: 2599, security: "none" } };

const credentialsOf = async (db: TestServer["rt"]["core"]["db"], workspaceId: string) =>
  (
    await db
      .select({ name: inboxes.name, credentials: inboxes.credentials })
      .from(inboxes)
      .where(eq(inboxes.workspaceId, workspaceId))
  ).filter((r) => r.credentials);

/** Twilio's status callback for the line's number, signed with its auth token (which must be opened). */
const statusCallback = (s: TestServer) => {
  const url = `${s.url}/webhooks/twilio/voice/status`;
  const params = {
    CallSid: `CA${"7".repeat(32)}`,
    From: "+8613800000001",
    To: voice.number,
    CallStatus: "completed",
    AccountSid: voice.accountSid,
  };
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": twilioSignature(voice.authToken, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
};

beforeAll(async () => {
  first = await startTestServer();
  voice = await startVoice(first);
  const admin = await first.login(first.admin.email, first.admin.password);
  const created = await api(`${first.url}/api/v1/inboxes`, {
    token: admin,
    body: { name: "Keys mail", channel: "email", email: emailSettings, credentials: { smtpPassword: "hunter2" } },
  });
  expect(created.status).toBe(201);
  emailInboxId = created.body.id;
  const session = await api(`${first.url}/widget/v1/sessions`, { body: { inboxKey: first.inbox.publicKey } });
  expect(session.status).toBe(200);
  visitor = { token: session.body.visitorToken, contactId: session.body.contact.id };
  expect(visitor.token.split(".")[2]).toBe(keyId(TEST_SECRET));
});

afterAll(async () => {
  voice?.stop();
  for (const s of [...servers, first]) await s?.stop();
});

describe("a rotated SECRET_KEY (the old one as SECRET_KEY_PREVIOUS)", () => {
  let rotated: TestServer;

  it("seals every inbox's credentials again with the new key at start", async () => {
    const before = await credentialsOf(first.rt.core.db, first.workspaceId);
    expect(before.length).toBe(3);
    expect(before.every((r) => r.credentials!.startsWith(`v2.${keyId(TEST_SECRET)}.`))).toBe(true);
    rotated = await startTestServer({ env: { SECRET_KEY: ROTATED, SECRET_KEY_PREVIOUS: TEST_SECRET } });
    servers.push(rotated);
    const after = await credentialsOf(rotated.rt.core.db, first.workspaceId);
    expect(after.map((r) => r.credentials!.slice(0, 12))).toEqual(after.map(() => `v2.${keyId(ROTATED)}.`));
  });

  it("keeps visitors, admins and phone lines working", async () => {
    // The visitor's token, signed with the old key, still works, and resumes the same contact.
    expect((await api(`${rotated.url}/widget/v1/messages`, { token: visitor.token })).status).toBe(200);
    const resumed = await api(`${rotated.url}/widget/v1/sessions`, {
      body: { inboxKey: first.inbox.publicKey, visitorToken: visitor.token },
    });
    expect(resumed.status).toBe(200);
    expect(resumed.body.contact.id).toBe(visitor.contactId);
    expect(resumed.body.visitorToken.split(".")[2]).toBe(keyId(ROTATED));
    // The admin's view of the mailbox opens its credentials.
    const admin = await rotated.login(first.admin.email, first.admin.password);
    const view = await api(`${rotated.url}/api/v1/inboxes/${emailInboxId}/email`, { token: admin });
    expect(view.status).toBe(200);
    expect(view.body.credentials.smtpPassword).toBe(true);
    // Twilio's webhook is verified with the line's auth token, opened from its re-sealed credentials.
    expect((await statusCallback(rotated)).status).toBe(200);
  });

  it("seals a value still under the previous key again when it is read", async () => {
    const stale = new Keyring(TEST_SECRET).seal(JSON.stringify({ smtpPassword: "hunter2" }));
    await rotated.rt.core.db.update(inboxes).set({ credentials: stale }).where(eq(inboxes.id, emailInboxId));
    const admin = await rotated.login(first.admin.email, first.admin.password);
    expect((await api(`${rotated.url}/api/v1/inboxes/${emailInboxId}/email`, { token: admin })).status).toBe(200);
    const [row] = await until(
      () =>
        rotated.rt.core.db
          .select({ credentials: inboxes.credentials })
          .from(inboxes)
          .where(eq(inboxes.id, emailInboxId)),
      (rows) => rows[0]!.credentials!.startsWith(`v2.${keyId(ROTATED)}.`),
    );
    expect(row!.credentials!.startsWith(`v2.${keyId(ROTATED)}.`)).toBe(true);
    expect(JSON.parse(new Keyring(ROTATED).open(row!.credentials!))).toEqual({ smtpPassword: "hunter2" });
  });
});

describe("a SECRET_KEY that opens nothing stored", () => {
  let lost: TestServer;
  let admin: string;
  // Twilio's number list, asked when the line's credentials are entered again: the line's own account.
  const numberList = startTwilioNumberList((sid) => sid === voice.accountSid);
  afterAll(() => numberList.stop(true));

  beforeAll(async () => {
    lost = await startTestServer({
      env: { SECRET_KEY: STRANGER, TWILIO_API_BASE_URL: `http://127.0.0.1:${numberList.port}` },
    });
    servers.push(lost);
    admin = await lost.login(first.admin.email, first.admin.password);
  });

  it("answers the inbox's admin route with a 409 naming the inbox, and its webhooks with a 409, not a 500", async () => {
    const view = await api(`${lost.url}/api/v1/inboxes/${emailInboxId}/email`, { token: admin });
    expect(view.status).toBe(409);
    expect(view.body.error).toMatchObject({ code: "conflict", field: "credentials" });
    expect(view.body.error.message).toContain('"Keys mail"');
    expect((await statusCallback(lost)).status).toBe(409);
    // Everything else still works: this node's own inboxes, and the softphone token route.
    expect((await api(`${lost.url}/widget/v1/sessions`, { body: { inboxKey: lost.inbox.publicKey } })).status).toBe(
      200,
    );
    expect((await api(`${lost.url}/api/v1/voice/token`, { token: admin })).status).toBe(200);
  });

  it("starts a fresh anonymous session for a visitor whose token no key signed", async () => {
    expect((await api(`${lost.url}/widget/v1/messages`, { token: visitor.token })).status).toBe(401);
    const session = await api(`${lost.url}/widget/v1/sessions`, {
      body: { inboxKey: first.inbox.publicKey, visitorToken: visitor.token },
    });
    expect(session.status).toBe(200);
    expect(session.body.contact.id).not.toBe(visitor.contactId);
    expect((await api(`${lost.url}/widget/v1/messages`, { token: session.body.visitorToken })).status).toBe(200);
  });

  it("lets the admin enter the credentials again, after which the inbox works", async () => {
    const put = await api(`${lost.url}/api/v1/inboxes/${emailInboxId}/email`, {
      token: admin,
      method: "PUT",
      body: { email: emailSettings, credentials: { smtpPassword: "entered again" } },
    });
    expect(put.status).toBe(200);
    expect(put.body.credentials).toMatchObject({ smtpPassword: true });
    const [row] = await lost.rt.core.db
      .select({ credentials: inboxes.credentials })
      .from(inboxes)
      .where(eq(inboxes.id, emailInboxId));
    expect(JSON.parse(new Keyring(STRANGER).open(row!.credentials!))).toEqual({ smtpPassword: "entered again" });

    // The phone line too: its credentials entered again (checked with Twilio), its webhooks verify.
    const line = await api(`${lost.url}/api/v1/inboxes/${voice.inbox.id}/voice/credentials`, {
      token: admin,
      method: "PUT",
      body: { accountSid: voice.accountSid, authToken: voice.authToken },
    });
    expect(line.status).toBe(200);
    expect((await statusCallback(lost)).status).toBe(200);
  });
});
