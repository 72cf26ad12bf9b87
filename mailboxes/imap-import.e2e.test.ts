import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { ImapFlow } from "imapflow";
import { emailMailboxState, timelineItems } from "../db/schema/index.ts";
import { startImap } from "./imap-import.ts";
import { startDovecot } from "../test/dovecot.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { until } from "../test/poll.ts";

let dovecot: Awaited<ReturnType<typeof startDovecot>>;
let server: TestServer;
let token: string;
const tag = crypto.randomUUID().slice(0, 8);
const user = `support-${tag}@example.test`;
const password = "imap secret";

beforeAll(async () => {
  dovecot = await startDovecot([{ user, password }]);
  // The importers are started by each test, so a test can stop and restart them.
  server = await startTestServer();
  token = await server.login(server.admin.email, server.admin.password);
});

afterAll(async () => {
  await server.stop();
  await dovecot.stop();
});

async function imap() {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port: dovecot.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
  });
  await client.connect();
  return client;
}

/** Delivers mail into the mailbox the way a mail server would: IMAP APPEND. */
async function append(
  mails: { id: string; from: string; subject: string; text: string; inReplyTo?: string }[],
  mailbox = "INBOX",
) {
  const client = await imap();
  if (mailbox !== "INBOX") await client.mailboxCreate(mailbox).catch(() => {});
  for (const m of mails)
    await client.append(
      mailbox,
      [
        `From: ${m.from}`,
        `To: ${user}`,
        `Subject: ${m.subject}`,
        `Message-ID: <${m.id}>`,
        ...(m.inReplyTo ? [`In-Reply-To: <${m.inReplyTo}>`] : []),
        "Content-Type: text/plain; charset=utf-8",
        "",
        m.text,
        "",
      ].join("\r\n"),
    );
  await client.logout();
}

async function createInbox(extra: Record<string, unknown> = {}) {
  const res = await api(`${server.url}/api/v1/inboxes`, {
    token,
    body: {
      name: "IMAP support",
      channel: "email",
      email: {
        address: user,
        imap: { host: "127.0.0.1", port: dovecot.port, security: "none", user, pollSeconds: 5, ...extra },
      },
      credentials: { imapPassword: password },
    },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function items(inboxId: string) {
  return server.rt.core.db
    .select({ externalId: timelineItems.externalId, conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.direction, "in")));
}

describe("IMAP import from Dovecot", () => {
  it("imports the backlog, pushes new mail through IDLE, and resumes after a restart without loss or duplicates", async () => {
    await append([
      { id: `a1-${tag}@x.test`, from: `Ann <ann-${tag}@x.test>`, subject: "Printer broken", text: "It jams." },
      { id: `b1-${tag}@x.test`, from: `bob-${tag}@x.test`, subject: "订单查询", text: "我的订单在哪里？" },
    ]);
    const inboxId = await createInbox();
    let importer = startImap(server.rt, { rescanMs: 60_000 });
    const first = await until(
      () => items(inboxId),
      (r) => r.length === 2,
    );
    expect(first.map((r) => r.externalId).sort()).toEqual([`a1-${tag}@x.test`, `b1-${tag}@x.test`]);

    // New mail while connected arrives through IDLE (EXISTS), well before the 5 s poll.
    const started = Date.now();
    await append([
      {
        id: `a2-${tag}@x.test`,
        from: `ann-${tag}@x.test`,
        subject: "Re: Printer broken",
        text: "Still jams.",
        inReplyTo: `a1-${tag}@x.test`,
      },
    ]);
    const pushed = await until(
      () => items(inboxId),
      (r) => r.length === 3,
    );
    expect(pushed.length).toBe(3);
    expect(Date.now() - started).toBeLessThan(4_000);
    const byId = new Map(pushed.map((r) => [r.externalId, r.conversationId]));
    expect(byId.get(`a2-${tag}@x.test`)).toBe(byId.get(`a1-${tag}@x.test`)!);

    // Stopped between two notifications: mail delivered meanwhile is imported on restart, once.
    await importer.stop();
    await append([
      { id: `c1-${tag}@x.test`, from: `cy-${tag}@x.test`, subject: "While you were away", text: "1" },
      { id: `c2-${tag}@x.test`, from: `cy-${tag}@x.test`, subject: "While you were away", text: "2" },
    ]);
    importer = startImap(server.rt, { rescanMs: 60_000 });
    const after = await until(
      () => items(inboxId),
      (r) => r.length === 5,
    );
    expect(after.map((r) => r.externalId).sort()).toEqual([
      `a1-${tag}@x.test`,
      `a2-${tag}@x.test`,
      `b1-${tag}@x.test`,
      `c1-${tag}@x.test`,
      `c2-${tag}@x.test`,
    ]);
    // Progress is saved once per batch, just after the batch's mail is committed: it follows shortly.
    const [state] = await until(
      () => server.rt.core.db.select().from(emailMailboxState).where(eq(emailMailboxState.inboxId, inboxId)),
      (r) => r[0]?.lastUid === 5,
    );
    expect(state!.lastUid).toBe(5);

    // The server renumbers the mailbox (a changed UIDVALIDITY): everything is read again, nothing
    // is imported twice.
    await importer.stop();
    await server.rt.core.db
      .update(emailMailboxState)
      .set({ uidValidity: 1, lastUid: 3 })
      .where(eq(emailMailboxState.inboxId, inboxId));
    importer = startImap(server.rt, { rescanMs: 60_000 });
    const reread = await until(
      () => server.rt.core.db.select().from(emailMailboxState).where(eq(emailMailboxState.inboxId, inboxId)),
      (r) => r[0]!.uidValidity !== 1 && r[0]!.lastUid === 5,
    );
    expect(reread[0]!.lastUid).toBe(5);
    expect((await items(inboxId)).length).toBe(5);
    await importer.stop();

    // The conversations are there for agents, threaded.
    const list = await api(`${server.url}/api/v1/conversations?inboxId=${inboxId}&limit=50`, { token });
    expect(list.body.items.length).toBe(3);
  }, 60_000);

  it("holds back a spam-flagged mail with its raw copy, and releases it from the spam view into its thread", async () => {
    await append(
      [{ id: `sp0-${tag}@x.test`, from: `sam-${tag}@x.test`, subject: "Quote request", text: "How much?" }],
      "Spam-src",
    );
    const client = await imap();
    await client.append(
      "Spam-src",
      [
        `From: sam-${tag}@x.test`,
        `To: ${user}`,
        "Subject: Re: Quote request",
        `Message-ID: <sp1-${tag}@x.test>`,
        `In-Reply-To: <sp0-${tag}@x.test>`,
        "X-Spam-Flag: YES",
        "",
        "Any news?",
        "",
      ].join("\r\n"),
    );
    await client.logout();
    const res = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: {
        name: "IMAP spam",
        channel: "email",
        email: {
          address: `spam-${tag}@example.test`,
          imap: { host: "127.0.0.1", port: dovecot.port, security: "none", user, mailbox: "Spam-src", pollSeconds: 5 },
        },
        credentials: { imapPassword: password },
      },
    });
    const importer = startImap(server.rt, { rescanMs: 60_000 });
    try {
      const spamUrl = `${server.url}/api/v1/inboxes/${res.body.id}/email/spam`;
      // Import runs in the background: on a busy machine it may take a while, so wait long (on the condition).
      const held = await until(
        async () => (await api(spamUrl, { token })).body.items as any[],
        (r) => r.length === 1,
        90_000,
      );
      expect(held[0]).toMatchObject({
        from: `sam-${tag}@x.test`,
        subject: "Re: Quote request",
        reason: "flagged as spam",
        releasable: true,
      });
      expect((await items(res.body.id)).length).toBe(1);
      const released = await api(`${spamUrl}/${held[0].id}/release`, { method: "POST", token });
      expect(released.status).toBe(200);
      const all = await items(res.body.id);
      expect(all.map((r) => r.externalId).sort()).toEqual([`sp0-${tag}@x.test`, `sp1-${tag}@x.test`]);
      expect(new Set(all.map((r) => r.conversationId)).size).toBe(1);
      expect(released.body.conversationId).toBe(all[0]!.conversationId);
    } finally {
      await importer.stop();
    }
  }, 150_000);

  it("moves imported mail to a folder when asked", async () => {
    const client = await imap();
    await client.mailboxCreate("Processed").catch(() => {});
    await client.logout();
    await append([{ id: `m1-${tag}@x.test`, from: `moe-${tag}@x.test`, subject: "Move me", text: "x" }], "Moved-src");
    // A second inbox on its own folder, moving what it imports.
    const res = await api(`${server.url}/api/v1/inboxes`, {
      token,
      body: {
        name: "IMAP folder",
        channel: "email",
        email: {
          address: `folder-${tag}@example.test`,
          imap: {
            host: "127.0.0.1",
            port: dovecot.port,
            security: "none",
            user,
            mailbox: "Moved-src",
            moveTo: "Processed",
            pollSeconds: 5,
          },
        },
        credentials: { imapPassword: password },
      },
    });
    const importer = startImap(server.rt, { rescanMs: 60_000 });
    await until(
      () => items(res.body.id),
      (r) => r.length === 1,
    );
    const check = await imap();
    const count = async (mailbox: string) => {
      const status = await check.status(mailbox, { messages: true });
      return status ? status.messages : -1;
    };
    const src = await until(
      () => count("Moved-src"),
      (n) => n === 0,
      5_000,
    );
    const dst = await count("Processed");
    await check.logout();
    await importer.stop();
    expect(src).toBe(0);
    expect(dst).toBe(1);
  }, 30_000);
});
