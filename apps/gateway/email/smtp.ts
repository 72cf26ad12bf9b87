import { SMTPServer, type SMTPServerDataStream } from "smtp-server";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import type { MailResolver, SmtpPeer } from "../../../channels/email/verify.ts";
import { inboxForAddress, type EmailInbox } from "../../../mailboxes/email-inbox.ts";
import { receiveEmail, type Receipt } from "../../../mailboxes/intake.ts";

/** The largest mail SMTP-in accepts (announced with SIZE, enforced while streaming). */
export const SMTP_MAX_BYTES = 60 * 1024 * 1024;
/** A mail to more of our addresses than this is refused: nobody writes to support that way. */
const MAX_RECIPIENTS = 100;

/** What one mail transaction (MAIL FROM … DATA) collected at RCPT: the inboxes and addresses it goes to. */
type Transaction = { inboxes: Map<string, EmailInbox>; recipients: string[] };

/**
 * smtp-server keeps one session object for a whole connection and replaces `session.envelope` at every
 * MAIL FROM, RSET, HELO/EHLO and after DATA: state keyed by the envelope belongs to one transaction, so a
 * relay sending several mails over one connection never carries one mail's recipients into the next.
 */
const transactions = new WeakMap<object, Transaction>();

function transactionOf(session: { envelope: object }): Transaction {
  let t = transactions.get(session.envelope);
  if (!t) transactions.set(session.envelope, (t = { inboxes: new Map(), recipients: [] }));
  return t;
}

function smtpError(message: string, code: number) {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * The optional SMTP listener a domain forwards support mail to: recipients are checked at RCPT
 * (unknown addresses get 550 there, before any data is sent), the size limit is announced and
 * enforced, and the mail is acknowledged only once it is committed (or held back with a reason).
 */
export async function startSmtpIn(
  rt: Runtime,
  options: { port: number; host: string; maxBytes?: number; resolver?: MailResolver },
) {
  const resolver = options.resolver;
  const maxBytes = options.maxBytes ?? SMTP_MAX_BYTES;
  const server = new SMTPServer({
    name: "switchboard",
    banner: "Switchboard SMTP-in",
    size: maxBytes,
    authOptional: true,
    // Loopback or a private relay in front: no AUTH, and STARTTLS belongs to the relay.
    disabledCommands: ["AUTH", "STARTTLS"],
    logger: false,
    maxClients: 50,
    onRcptTo(address, session, callback) {
      const t = transactionOf(session);
      void (async () => {
        const inbox = await inboxForAddress(rt.core.db, address.address);
        if (!inbox) return callback(smtpError(`5.1.1 <${address.address}>: no inbox here has this address`, 550));
        if (t.recipients.length >= MAX_RECIPIENTS) return callback(smtpError("4.5.3 Too many recipients", 452));
        t.inboxes.set(inbox.id, inbox);
        t.recipients.push(address.address.toLowerCase());
        callback();
      })().catch((err: unknown) => {
        log.error("smtp-in: recipient check failed", { err });
        callback(smtpError("4.3.0 Temporary failure, try again later", 451));
      });
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const t = transactionOf(session);
      const targets = [...t.inboxes.values()];
      const { mailFrom } = session.envelope;
      const peer: SmtpPeer = {
        ip: session.remoteAddress,
        helo: session.hostNameAppearsAs || undefined,
        envelopeFrom: mailFrom ? mailFrom.address : undefined,
      };
      void (async () => {
        // Read into memory only up to the limit; a mail over it is drained and refused with 552.
        // Attachments are streamed to disk by the parser: the one buffered copy is the raw mail for
        // its second and further inboxes (rare), so a single inbox parses straight from the socket.
        const tooLarge = `5.3.4 Message is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`;
        if (targets.length === 1) {
          const receipt = await receiveEmail(rt, targets[0]!, stream, {
            recipients: t.recipients,
            resolver,
            peer,
            refuse: () => (stream.sizeExceeded ? tooLarge : undefined),
          });
          if (receipt.status === "refused") return callback(smtpError(receipt.reason, 552));
          return callback(null, describe(receipt));
        }
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        if (stream.sizeExceeded) return callback(smtpError(tooLarge, 552));
        const raw = Buffer.concat(chunks);
        const receipts: Receipt[] = [];
        for (const inbox of targets)
          receipts.push(await receiveEmail(rt, inbox, raw, { recipients: t.recipients, resolver, peer }));
        callback(null, receipts.map(describe).join("; "));
      })().catch((err: unknown) => {
        log.error("smtp-in: delivery failed", { err });
        stream.resume();
        callback(smtpError("4.3.0 Could not store the message, try again later", 451));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error("smtp-in: server error", { err }));
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function describe(r: Receipt) {
  if (r.status === "stored" || r.status === "duplicate")
    return `Queued as ${r.itemId}${r.status === "duplicate" ? " (already received)" : ""}`;
  if (r.status === "bounce") return "Delivery report recorded";
  return `Accepted and held for review: ${"reason" in r ? r.reason : ""}`;
}
