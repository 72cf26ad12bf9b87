import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { dkimSign } from "mailauth";
import nodemailer from "nodemailer";
import { createInbox } from "../conversations/inbox.ts";
import { emailParticipants, emailQuarantine, timelineItems } from "../db/schema/index.ts";
import { startSmtpIn } from "../apps/gateway/email/smtp.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";
import { startSmtpSink } from "../test/smtp-sink.ts";
import { until } from "../test/poll.ts";
import { launchChromium, signIn } from "../test/browser.ts";

let server: TestServer;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
let smtpIn: Awaited<ReturnType<typeof startSmtpIn>>;
let token: string;
let inboxId: string;
const tag = crypto.randomUUID().slice(0, 8);
const support = `auth-${tag}@acme.test`;

/** Domains as DNS would publish them: a bank enforcing DMARC, a shop with none, a bouncing mail server. */
const bank = `bank-${tag}.test`;
const shop = `shop-${tag}.test`;
const mx = `mx-${tag}.test`;
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const dkimKey = `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
const records: Record<string, string> = {
  [`s1._domainkey.${bank}`]: dkimKey,
  [`_dmarc.${bank}`]: "v=DMARC1; p=reject",
  [`s1._domainkey.${mx}`]: dkimKey,
};
/** No DNS here: the listener asks this instead, and every other name does not exist. */
async function resolver(name: string, type: string) {
  const record = type === "TXT" ? records[name.toLowerCase()] : undefined;
  if (record) return [[record]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: "ENOTFOUND" });
}

beforeAll(async () => {
  server = await startTestServer();
  sink = await startSmtpSink();
  smtpIn = await startSmtpIn(server.rt, { port: 0, host: "127.0.0.1", resolver });
  token = await server.login(server.admin.email, server.admin.password);
  const settings = {
    address: support,
    smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
    floodPerHour: 1000,
  };
  inboxId = (
    await createInbox(server.rt.core.db, server.rt.keyring, {
      workspaceId: server.workspaceId,
      channel: "email",
      name: "Auth",
      settings,
    })
  ).id;
});

afterAll(async () => {
  await smtpIn.stop();
  await server.stop();
  await sink.stop();
});

function rawMail(h: { from: string; subject: string; id: string; inReplyTo?: string; cc?: string; text: string }) {
  return [
    `From: ${h.from}`,
    `To: ${support}`,
    ...(h.cc ? [`Cc: ${h.cc}`] : []),
    `Subject: ${h.subject}`,
    `Message-ID: <${h.id}>`,
    ...(h.inReplyTo ? [`In-Reply-To: <${h.inReplyTo}>`] : []),
    "Date: Mon, 7 Dec 2026 10:00:00 +0000",
    "Content-Type: text/plain; charset=utf-8",
    "",
    h.text,
    "",
  ].join("\r\n");
}

async function signed(raw: string, domain: string) {
  const key = {
    signingDomain: domain,
    selector: "s1",
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  // mailauth signs what signatureData lists (the top-level fields alone sign nothing).
  const { signatures } = await dkimSign(raw, { ...key, signatureData: [key] });
  expect(signatures).toStartWith("DKIM-Signature:");
  return signatures + raw;
}

async function send(raw: string, envelopeFrom = "") {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: smtpIn.port,
    secure: false,
    ignoreTLS: true,
  });
  return transport.sendMail({ envelope: { from: envelopeFrom, to: [support] }, raw });
}

async function item(externalId: string) {
  const [row] = await server.rt.core.db
    .select()
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, externalId)));
  return row;
}

describe("sender authenticity of inbound mail", () => {
  it("keeps a forged mail from a DMARC-enforcing domain out of the customer's thread, copies nobody, and marks it", async () => {
    const customer = `ann@${bank}`;
    await send(
      await signed(
        rawMail({ from: `Ann <${customer}>`, subject: "Card blocked", id: `real-${tag}@${bank}`, text: "Please help" }),
        bank,
      ),
      customer,
    );
    const real = (await item(`real-${tag}@${bank}`))!;
    expect(real.data.senderAuth).toMatchObject({ verdict: "pass", dmarc: "pass", domain: bank });

    // The same From, unsigned: a reply by header and by subject, copying the forger.
    await send(
      rawMail({
        from: `Ann <${customer}>`,
        cc: `mallory-${tag}@evil.test`,
        subject: "Re: Card blocked",
        id: `forged-${tag}@evil.test`,
        inReplyTo: `real-${tag}@${bank}`,
        text: "Send the new PIN to mallory",
      }),
      `x@evil.test`,
    );
    const forged = (await item(`forged-${tag}@evil.test`))!;
    expect(forged.conversationId).not.toBe(real.conversationId);
    expect(forged.data.senderAuth).toMatchObject({ verdict: "fail", dmarc: "fail", policy: "reject" });
    const copied = await server.rt.core.db
      .select()
      .from(emailParticipants)
      .where(eq(emailParticipants.conversationId, forged.conversationId));
    expect(copied).toEqual([]);
    // The agent sees it marked.
    const timeline = (await api(`${server.url}/api/v1/conversations/${forged.conversationId}/timeline`, { token })).body
      .items as any[];
    expect(timeline.find((i) => i.id === forged.id).data.senderAuth.verdict).toBe("fail");

    // In the inbox the forged mail says so; the verified one shows nothing.
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await signIn(page, server.url, server.admin.email, server.admin.password);
      const marker = (conversationId: string, text: string) =>
        page.goto(`${server.url}/app/#/inbox/all/${conversationId}`).then(async () => {
          const item = page.getByTestId("timeline-item").filter({ hasText: text });
          await item.waitFor();
          return item.getByTestId("sender-auth");
        });
      const warned = await marker(forged.conversationId, "Send the new PIN");
      expect(await warned.getAttribute("data-verdict")).toBe("fail");
      expect(await warned.textContent()).toBe("Sender verification failed: possibly forged");
      expect(await (await marker(real.conversationId, "Please help")).count()).toBe(0);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it("still threads mail from a domain without a DMARC policy, marked as not verified", async () => {
    const from = `bo@${shop}`;
    await send(rawMail({ from, subject: "Where is my parcel", id: `p1-${tag}@${shop}`, text: "?" }), from);
    await send(
      rawMail({
        from,
        subject: "Re: Where is my parcel",
        id: `p2-${tag}@${shop}`,
        inReplyTo: `p1-${tag}@${shop}`,
        cc: `partner-${tag}@${shop}`,
        text: "any news?",
      }),
      from,
    );
    const [first, second] = [(await item(`p1-${tag}@${shop}`))!, (await item(`p2-${tag}@${shop}`))!];
    expect(second.conversationId).toBe(first.conversationId);
    expect(second.data.senderAuth).toMatchObject({ verdict: "none", dkim: "none", dmarc: "none", spf: null });
    const copied = await server.rt.core.db
      .select()
      .from(emailParticipants)
      .where(eq(emailParticipants.conversationId, first.conversationId));
    expect(copied.map((p) => p.address)).toEqual([`partner-${tag}@${shop}`]);
  });

  it("fails a delivery only on a bounce its sender's domain vouches for; an unverified one is held back", async () => {
    const from = `cy@${shop}`;
    await send(rawMail({ from, subject: "Returns", id: `r1-${tag}@${shop}`, text: "return label?" }), from);
    const conversationId = (await item(`r1-${tag}@${shop}`))!.conversationId;
    const before = sink.received.length;
    expect(
      (
        await api(`${server.url}/api/v1/conversations/${conversationId}/messages`, {
          token,
          body: { text: "Here it is" },
        })
      ).status,
    ).toBe(201);
    await until(
      async () => sink.received.length,
      (n) => n > before,
    );
    const sentId = sink.received[before]!.mail.messageId!;
    const reply = async () =>
      (await api(`${server.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items.find(
        (i: any) => i.direction === "out",
      );
    await until(reply, (r) => r.status === "sent");
    const dsn = (id: string) =>
      [
        `From: MAILER-DAEMON@${mx}`,
        `To: ${support}`,
        "Subject: Undelivered Mail Returned to Sender",
        `Message-ID: <${id}>`,
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="d"',
        "",
        "--d",
        "Content-Type: text/plain",
        "",
        "Could not deliver.",
        "--d",
        "Content-Type: message/delivery-status",
        "",
        `Reporting-MTA: dns; ${mx}`,
        "",
        `Final-Recipient: rfc822; ${from}`,
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 no such user",
        "--d",
        "Content-Type: text/rfc822-headers",
        "",
        `Message-ID: ${sentId}`,
        "Subject: Re: Returns",
        "--d--",
        "",
      ].join("\r\n");

    // Unsigned: anyone could have sent it.
    await send(dsn(`dsn1-${tag}@${mx}`));
    const [held] = await server.rt.core.db
      .select()
      .from(emailQuarantine)
      .where(eq(emailQuarantine.messageId, `dsn1-${tag}@${mx}`));
    expect(held).toMatchObject({ inboxId, details: expect.objectContaining({ kind: "unverified_bounce" }) });
    expect((await reply()).status).toBe("sent");

    // Signed by the reporting server's domain: the delivery failed.
    await send(await signed(dsn(`dsn2-${tag}@${mx}`), mx));
    expect(await reply()).toMatchObject({ status: "failed", error: expect.stringContaining("no such user") });
  });
});
