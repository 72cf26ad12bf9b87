import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";
import { startImap } from "../mailboxes/imap-import.ts";
import { startSmtpIn } from "../apps/gateway/email/smtp.ts";
import { createRuntime, type Runtime } from "../apps/server/runtime.ts";
import { createInbox } from "../conversations/inbox.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { timelineItems } from "../db/schema/index.ts";
import { parseConfig } from "../platform/config.ts";
import { setLogLevel } from "../platform/log.ts";
import { startDovecot } from "../test/dovecot.ts";

/**
 * Email ingest, end to end on the product's default store (PGlite in a data directory; PostgreSQL
 * when DATABASE_URL is set): mails per second from SMTP-in to committed timeline items (SMTP-in
 * acknowledges a mail only after its commit), for 1 KB text mails and 1 MB mails with an attachment;
 * and the import of an IMAP backlog from a local Dovecot: time and the process's peak memory.
 */
const TEXT_MAILS = 1000;
const BIG_MAILS = 40;
const CONNECTIONS = 4;
const BACKLOG = Number(process.env.EMAIL_BENCH_BACKLOG ?? 10_000);

export async function benchEmail({ json }: { json: boolean }) {
  setLogLevel("error");
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-email-"));
  const config = parseConfig({
    DATA_DIR: dataDir,
    SECRET_KEY: "bench-secret-key-that-is-long-enough-0123456789",
    LOG_LEVEL: "error",
    SWITCHBOARD_DEMO: "0",
    DATABASE_URL: process.env.DATABASE_URL,
  });
  const rt = await createRuntime(config);
  try {
    const ws = await createWorkspace(rt.core.db, "Bench");
    const smtp = await startSmtpIn(rt, { port: 0, host: "127.0.0.1" });
    const text = await smtpRun(rt, ws.id, smtp.port, "text", TEXT_MAILS, () => ({ text: "x".repeat(1024) }));
    const big = await smtpRun(rt, ws.id, smtp.port, "big", BIG_MAILS, () => ({
      text: "log attached",
      attachments: [{ filename: "log.pdf", content: Buffer.alloc(1024 * 1024, 65), contentType: "application/pdf" }],
    }));
    await smtp.stop();
    const imap = await imapRun(rt, ws.id);
    const result = { driver: rt.database.driver, smtpText: text, smtpOneMegabyte: big, imapBacklog: imap };
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(`email bench (${result.driver}, 2 cores)`);
      console.log("| run | mails | seconds | mails/s |");
      console.log("| --- | ---: | ---: | ---: |");
      for (const [name, r] of [
        ["SMTP-in, 1 KB text", text],
        ["SMTP-in, 1 MB attachment", big],
      ] as const)
        console.log(`| ${name} | ${r.mails} | ${r.seconds.toFixed(2)} | ${r.perSecond.toFixed(1)} |`);
      console.log(
        `| IMAP backlog import | ${imap.mails} | ${imap.seconds.toFixed(2)} | ${imap.perSecond.toFixed(1)} |`,
      );
      console.log(
        `IMAP backlog: ${imap.appendSeconds.toFixed(1)} s to APPEND it into Dovecot; peak RSS during import ${imap.peakRssMb} MB (start ${imap.startRssMb} MB)`,
      );
    }
  } finally {
    await rt.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function smtpRun(
  rt: Runtime,
  workspaceId: string,
  port: number,
  name: string,
  mails: number,
  body: () => Record<string, unknown>,
) {
  const address = `${name}-${crypto.randomUUID().slice(0, 8)}@bench.test`;
  const inbox = await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "email",
    name,
    settings: { address, floodPerHour: 10_000 },
  });
  const transports = Array.from({ length: CONNECTIONS }, () =>
    nodemailer.createTransport({
      host: "127.0.0.1",
      port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 1,
    }),
  );
  let next = 0;
  const started = performance.now();
  await Promise.all(
    transports.map(async (t) => {
      while (next < mails) {
        const n = next++;
        // One sender per 10 mails: new contacts and conversations, as a busy support address sees.
        await t.sendMail({
          from: `customer${n % Math.ceil(mails / 10)}@${name}.test`,
          to: address,
          subject: `Question ${n}`,
          messageId: `<${name}-${n}-${inbox.id}@bench.test>`,
          ...body(),
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  transports.forEach((t) => t.close());
  const [stored] = await rt.core.db
    .select({ n: count() })
    .from(timelineItems)
    .where(eq(timelineItems.inboxId, inbox.id));
  if (Number(stored!.n) !== mails) throw new Error(`${name}: ${stored!.n} of ${mails} mails stored`);
  return { mails, seconds, perSecond: mails / seconds };
}

async function imapRun(rt: Runtime, workspaceId: string) {
  const user = "bench@example.test";
  const dovecot = await startDovecot([{ user, password: "pw" }]);
  try {
    const client = new ImapFlow({
      host: "127.0.0.1",
      port: dovecot.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass: "pw" },
      logger: false,
    });
    await client.connect();
    const appendStarted = performance.now();
    for (let n = 0; n < BACKLOG; n++)
      await client.append(
        "INBOX",
        `From: customer${n % 1000}@imap.test\r\nTo: ${user}\r\nSubject: Backlog ${n}\r\nMessage-ID: <backlog-${n}@imap.test>\r\n\r\n${"y".repeat(900)}\r\n`,
      );
    const appendSeconds = (performance.now() - appendStarted) / 1000;
    await client.logout();
    const inbox = await createInbox(rt.core.db, rt.keyring, {
      workspaceId,
      channel: "email",
      name: "IMAP backlog",
      settings: {
        address: user,
        floodPerHour: 10_000,
        imap: { host: "127.0.0.1", port: dovecot.port, security: "none", user, mailbox: "INBOX", pollSeconds: 60 },
      },
      credentials: { imapPassword: "pw" },
    });
    Bun.gc(true);
    const startRss = process.memoryUsage().rss;
    let peak = startRss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const started = performance.now();
    const importer = startImap(rt, { rescanMs: 3_600_000 });
    for (;;) {
      const [row] = await rt.core.db
        .select({ n: count() })
        .from(timelineItems)
        .where(eq(timelineItems.inboxId, inbox.id));
      if (Number(row!.n) >= BACKLOG) break;
      if (performance.now() - started > 30 * 60_000) throw new Error(`IMAP import stalled at ${row!.n} of ${BACKLOG}`);
      await Bun.sleep(200);
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    await importer.stop();
    return {
      mails: BACKLOG,
      seconds,
      perSecond: BACKLOG / seconds,
      appendSeconds,
      startRssMb: Math.round(startRss / 1048576),
      peakRssMb: Math.round(peak / 1048576),
    };
  } finally {
    await dovecot.stop();
  }
}
