import { expect } from "bun:test";
import nodemailer from "nodemailer";
import { api, startTestServer } from "./server.ts";
import { startSmtpSink } from "./smtp-sink.ts";

export type EmailInbox = Awaited<ReturnType<typeof startEmailInbox>>;

/**
 * A test server with SMTP-in and an email inbox ("Acme support") whose replies go to a local SMTP sink
 * (which refuses `gone@…`), signed in as the admin. Addresses carry a random tag, so that files
 * sharing one database never route each other's mail.
 */
export async function startEmailInbox() {
  const tag = crypto.randomUUID().slice(0, 8);
  const support = `support-${tag}@acme.test`;
  const server = await startTestServer({ email: { smtp: true } });
  const sink = await startSmtpSink({ reject: /^gone@/ });
  const token = await server.login(server.admin.email, server.admin.password);
  const created = await api(`${server.url}/api/v1/inboxes`, {
    token,
    body: {
      name: "Acme support",
      channel: "email",
      email: {
        address: support,
        smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
        signature: "Acme Support",
        floodPerHour: 1000,
      },
    },
  });
  expect(created.status).toBe(201);
  const inboxId: string = created.body.id;
  // Addresses given through the admin API receive mail once proven (docs/security.md, routing keys).
  await server.proveRoutes(inboxId);

  const transport = () =>
    nodemailer.createTransport({ host: "127.0.0.1", port: server.email!.smtpPort!, secure: false, ignoreTLS: true });

  /** A customer's mail through SMTP-in; resolves once SMTP-in acknowledged it (after commit). */
  async function mail(options: {
    from: string;
    subject: string;
    text: string;
    messageId?: string;
    inReplyTo?: string;
    references?: string[];
    to?: string;
    cc?: string;
    headers?: Record<string, string>;
    attachments?: { filename: string; content: Buffer | string; contentType?: string }[];
  }) {
    return transport().sendMail({ to: support, ...options });
  }

  async function timelineOf(conversationId: string) {
    return (await api(`${server.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items as any[];
  }

  /** The conversation holding the message with this Message-ID. */
  async function conversationOfMessage(messageId: string) {
    const list = await api(
      `${server.url}/api/v1/conversations?inboxId=${inboxId}&status=open,pending,snoozed,resolved&limit=100`,
      { token },
    );
    for (const c of list.body.items as any[]) {
      const items = await timelineOf(c.id);
      if (items.some((i) => i.data?.messageId === messageId.replace(/[<>]/g, "").toLowerCase())) return c.id as string;
    }
    return undefined;
  }

  return {
    tag,
    support,
    server,
    sink,
    token,
    inboxId,
    transport,
    mail,
    timelineOf,
    conversationOfMessage,
    async stop() {
      await server.stop();
      await sink.stop();
    },
  };
}
