import { z } from "zod";

const Host = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[a-z0-9.-]+$|^\[[0-9a-f:]+\]$/i, "must be a host name or address");
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

/**
 * An email inbox's settings (stored in `inboxes.settings`, public to agents): its address, mailbox
 * and SMTP servers, signature and threading windows. Passwords and the DKIM key are credentials.
 */
export const EmailSettings = z
  .object({
    address: z
      .email()
      .max(320)
      .transform((a) => a.toLowerCase()),
    /** Other addresses that deliver to this inbox (SMTP-in). */
    aliases: z
      .array(
        z
          .email()
          .max(320)
          .transform((a) => a.toLowerCase()),
      )
      .max(20)
      .default([]),
    /** The name customers see, after the agent's: "Ann (Acme Support)". */
    displayName: z.string().trim().max(100).optional(),
    imap: z
      .object({
        host: Host,
        port: z.number().int().min(1).max(65535).default(993),
        // "none" (no encryption) only on loopback, where tests run a local server.
        security: z.enum(["tls", "starttls", "none"]).default("tls"),
        user: z.string().min(1).max(320),
        mailbox: z.string().min(1).max(200).default("INBOX"),
        /** Move imported mail to this folder; left in place when unset. */
        moveTo: z.string().min(1).max(200).optional(),
        /** Polling interval when the server has no IDLE (and a safety net when it has). */
        pollSeconds: z.number().int().min(5).max(3600).default(60),
      })
      .optional(),
    smtp: z
      .object({
        host: Host,
        port: z.number().int().min(1).max(65535).default(587),
        security: z.enum(["tls", "starttls", "none"]).default("starttls"),
        user: z.string().min(1).max(320).optional(),
      })
      .optional(),
    signature: z.string().max(5000).optional(),
    subjectWindowDays: z.number().int().min(0).max(365).default(14),
    reopenWithinDays: z.number().int().min(0).max(3650).default(30),
    /** Mails one sender may bring in an hour before the rest goes to the spam view. */
    floodPerHour: z.number().int().min(1).max(10_000).default(30),
    /** Largest attachment kept (MB); larger ones are listed as skipped on the message. */
    maxAttachmentMb: z.number().int().min(1).max(100).default(50),
    /** A ticket address: every new conversation it receives becomes a ticket (tickets/email-ticket.ts). */
    createsTickets: z.boolean().default(false),
  })
  .superRefine((s, ctx) => {
    if (s.imap?.security === "none" && !LOOPBACK.test(s.imap.host))
      ctx.addIssue({
        code: "custom",
        path: ["imap", "security"],
        message: "unencrypted IMAP is allowed only on a loopback host",
      });
    if (s.smtp?.security === "none" && !LOOPBACK.test(s.smtp.host))
      ctx.addIssue({
        code: "custom",
        path: ["smtp", "security"],
        message: "unencrypted SMTP is allowed only on a loopback host",
      });
  });
export type EmailSettings = z.infer<typeof EmailSettings>;

export const EmailCredentials = z.object({
  imapPassword: z.string().max(1000).optional(),
  smtpPassword: z.string().max(1000).optional(),
  dkim: z
    .object({
      domainName: z.string().min(1).max(255),
      keySelector: z.string().min(1).max(100),
      privateKey: z
        .string()
        .min(100)
        .max(20_000)
        .regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "must be a PEM private key"),
    })
    .optional(),
});
export type EmailCredentials = z.infer<typeof EmailCredentials>;

/** Settings as stored, or undefined when the inbox is not (yet) a valid email inbox. */
export function emailSettingsOf(settings: unknown): EmailSettings | undefined {
  const parsed = EmailSettings.safeParse(settings);
  return parsed.success ? parsed.data : undefined;
}
