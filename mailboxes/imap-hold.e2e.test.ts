import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import { ImapFlow } from "imapflow";
import { emailSettingsOf } from "../channels/email/index.ts";
import { createInbox } from "../conversations/inbox.ts";
import { emailQuarantine, timelineItems } from "../db/schema/index.ts";
import { MailboxImporter } from "./imap-import.ts";
import type { Runtime } from "../apps/server/runtime.ts";
import { startDovecot } from "../test/dovecot.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { until } from "../test/poll.ts";

let dovecot: Awaited<ReturnType<typeof startDovecot>>;
let server: TestServer;
let token: string;
const tag = crypto.randomUUID().slice(0, 8);
const user = `hold-${tag}@example.test`;
const password = "imap secret";

beforeAll(async () => {
  dovecot = await startDovecot([{ user, password }]);
  server = await startTestServer();
  token = await server.login(server.admin.email, server.admin.password);
});

afterAll(async () => {
  await server.stop();
  await dovecot.stop();
});

async function append(raw: string) {
  const client = new ImapFlow({
    host: "127.0.0.1",
    port: dovecot.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
  });
  await client.connect();
  await client.append("INBOX", raw);
  await client.logout();
}

describe("IMAP import that keeps failing", () => {
  it("holds the mail back with its raw copy, releasable from the spam view, and the mailbox moves on", async () => {
    const settings = {
      address: user,
      imap: { host: "127.0.0.1", port: dovecot.port, security: "none", user, pollSeconds: 3600 },
    };
    const row = await createInbox(server.rt.core.db, server.rt.keyring, {
      workspaceId: server.workspaceId,
      channel: "email",
      name: "Flaky",
      settings,
      credentials: { imapPassword: password },
    });
    const inbox = {
      id: row.id,
      workspaceId: row.workspaceId,
      name: row.name,
      settings: emailSettingsOf(row.settings)!,
    };
    // Storing a mail's attachments fails on this node (a full disk, say); everything else works.
    const files = Object.create(server.rt.files) as Runtime["files"];
    files.claim = async () => {
      throw new Error("disk unavailable");
    };
    const importer = new MailboxImporter({ ...server.rt, files }, inbox, { imapPassword: password });
    await append(
      [
        `From: Ann <ann-${tag}@x.test>`,
        `To: ${user}`,
        `Subject: Scan ${tag}`,
        `Message-ID: <scan-${tag}@x.test>`,
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "the scan",
        "--b",
        'Content-Type: application/pdf; name="scan.pdf"',
        'Content-Disposition: attachment; filename="scan.pdf"',
        "Content-Transfer-Encoding: base64",
        "",
        Buffer.from(`%PDF scan ${tag}`).toString("base64"),
        "--b--",
        "",
      ].join("\r\n"),
    );
    await append(
      [
        `From: bob-${tag}@x.test`,
        `To: ${user}`,
        `Subject: After ${tag}`,
        `Message-ID: <after-${tag}@x.test>`,
        "",
        "next mail",
        "",
      ].join("\r\n"),
    );
    importer.start();
    try {
      const heldRows = () =>
        server.rt.core.db.select().from(emailQuarantine).where(eq(emailQuarantine.inboxId, inbox.id));
      // Each sync tries the failing mail once and stops there; asking again (as IDLE or the poll would) retries it.
      const held = await until(
        async () => (importer.requestSync(), heldRows()),
        (rows) => rows.length > 0,
        60_000,
      );
      expect(held).toMatchObject([
        {
          messageId: expect.stringMatching(/^imap:\d+:1$/),
          reason: "import failed: disk unavailable",
          details: expect.objectContaining({ kind: "import_failed" }),
        },
      ]);
      expect(held[0]!.rawId).not.toBeNull();
      const stored = () =>
        server.rt.core.db
          .select()
          .from(timelineItems)
          .where(and(eq(timelineItems.inboxId, inbox.id), eq(timelineItems.direction, "in")));
      expect((await until(stored, (items) => items.length > 0)).map((i) => i.externalId)).toEqual([
        `after-${tag}@x.test`,
      ]);

      // The cause fixed, the admin releases it from its raw copy: stored with its attachment.
      const spam = await api(`${server.url}/api/v1/inboxes/${inbox.id}/email/spam`, { token });
      expect(spam.body.items).toContainEqual(
        expect.objectContaining({ id: held[0]!.id, kind: "import_failed", releasable: true }),
      );
      const released = await api(`${server.url}/api/v1/inboxes/${inbox.id}/email/spam/${held[0]!.id}/release`, {
        method: "POST",
        token,
      });
      expect(released.status).toBe(200);
      const timeline = (
        await api(`${server.url}/api/v1/conversations/${released.body.conversationId}/timeline`, { token })
      ).body.items as any[];
      expect(timeline.find((i) => i.id === released.body.itemId)).toMatchObject({
        text: "the scan",
        attachments: [expect.objectContaining({ name: "scan.pdf" })],
      });
    } finally {
      await importer.stop();
    }
  }, 120_000);
});
