import nodemailer, { type Transporter } from "nodemailer";
import { z } from "zod";
import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { EmailCredentials, EmailSettings } from "./settings.ts";

/**
 * What the gateway prepares for one outbound mail (OutboxOptions.prepare): the headers only the
 * database knows. Carried in `channelData.email`.
 */
export const EmailEnvelope = z.object({
  messageId: z.string().min(3),
  from: z.object({ name: z.string(), address: z.email() }),
  to: z.array(z.email()).min(1, "the conversation has no email address to send to"),
  cc: z.array(z.email()).default([]),
  replyTo: z.email(),
  subject: z.string(),
  inReplyTo: z.string().optional(),
  references: z.array(z.string()).default([]),
  signature: z.string().optional(),
  /** Written by the system (an auto-reply), not an agent: marked so the other side does not answer. */
  automatic: z.boolean().default(false),
  attachments: z.array(z.object({ filename: z.string(), path: z.string(), contentType: z.string() })).default([]),
});
export type EmailEnvelope = z.infer<typeof EmailEnvelope>;

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The plain text as HTML paragraphs, so clients that prefer HTML show the same thing. */
export function textToHtml(text: string) {
  return text
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, "<br>")}</p>`)
    .join("\n");
}

const transports = new Map<string, Transporter>();

function transportFor(settings: EmailSettings, credentials: EmailCredentials) {
  const smtp = settings.smtp;
  if (!smtp) throw new PermanentSendError("No outgoing mail server is configured for this inbox (settings.smtp)");
  const key = JSON.stringify([smtp, credentials.smtpPassword ?? "", credentials.dkim?.keySelector ?? ""]);
  let t = transports.get(key);
  if (!t) {
    t = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.security === "tls",
      requireTLS: smtp.security === "starttls",
      ignoreTLS: smtp.security === "none",
      auth: smtp.user ? { user: smtp.user, pass: credentials.smtpPassword ?? "" } : undefined,
      dkim: credentials.dkim
        ? {
            domainName: credentials.dkim.domainName,
            keySelector: credentials.dkim.keySelector,
            privateKey: credentials.dkim.privateKey,
          }
        : undefined,
      connectionTimeout: 20_000,
      greetingTimeout: 20_000,
      socketTimeout: 60_000,
    });
    transports.set(key, t);
  }
  return t;
}

/** Closes cached SMTP connections (at shutdown, and in tests). */
export function closeTransports() {
  for (const t of transports.values()) t.close();
  transports.clear();
}

/**
 * Sends one agent reply over SMTP: the agent's name with the inbox address, our Message-ID (stable per
 * outbox row, so a resend after a crash is the same mail), In-Reply-To/References for the customer's
 * client to thread, a Reply-To carrying the conversation's token, text and HTML alternatives, files,
 * DKIM when a key is configured. A 5xx answer is permanent; anything else is retried by the outbox.
 */
export async function sendEmail(outbound: OutboundMessage): Promise<SendResult> {
  const settings = EmailSettings.safeParse(outbound.inbox.settings);
  if (!settings.success) throw new PermanentSendError("This inbox has no valid email settings");
  const credentials = EmailCredentials.parse(outbound.inbox.credentials ?? {});
  const parsed = EmailEnvelope.safeParse((outbound.channelData ?? {}).email);
  if (!parsed.success) throw new PermanentSendError(`Cannot address this email: ${parsed.error.issues[0]!.message}`);
  const env = parsed.data;
  const body = [outbound.text ?? "", env.signature ? `-- \n${env.signature}` : ""].filter(Boolean).join("\n\n");
  const transport = transportFor(settings.data, credentials);
  try {
    const info = await transport.sendMail({
      messageId: env.messageId,
      from: { name: env.from.name, address: env.from.address },
      to: env.to,
      cc: env.cc.length ? env.cc : undefined,
      replyTo: env.replyTo,
      subject: env.subject,
      inReplyTo: env.inReplyTo,
      references: env.references.length ? env.references : undefined,
      text: body,
      html: outbound.html ?? textToHtml(body),
      attachments: env.attachments.map((a) => ({ filename: a.filename, path: a.path, contentType: a.contentType })),
      headers: env.automatic ? { "Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All" } : {},
    });
    return { externalId: info.messageId ?? env.messageId, status: "sent" };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
    const reason = e.response ?? e.message ?? String(err);
    if ((e.responseCode ?? 0) >= 500 || e.code === "EENVELOPE" || e.code === "EAUTH")
      throw new PermanentSendError(reason);
    throw new Error(reason);
  }
}
