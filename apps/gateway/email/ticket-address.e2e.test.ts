import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import nodemailer from "nodemailer";
import { startEmailInbox, type EmailInbox } from "../../../test/email-inbox.ts";
import { until } from "../../../test/poll.ts";
import { api } from "../../../test/server.ts";

let inbox: EmailInbox;
let ticketAddress: string;

beforeAll(async () => {
  inbox = await startEmailInbox();
  ticketAddress = `tickets-${inbox.tag}@acme.test`;
  const created = await api(`${inbox.server.url}/api/v1/inboxes`, {
    token: inbox.token,
    body: {
      name: "Acme tickets",
      channel: "email",
      email: {
        address: ticketAddress,
        smtp: { host: "127.0.0.1", port: inbox.sink.port, security: "none" },
        floodPerHour: 1000,
        createsTickets: true,
      },
    },
  });
  expect(created.status).toBe(201);
  await inbox.server.proveRoutes(created.body.id);
}, 60_000);
afterAll(() => inbox.stop());

const v1 = (path: string) => `${inbox.server.url}/api/v1${path}`;
const send = (options: { from: string; to: string; subject: string; text: string; messageId?: string }) =>
  nodemailer
    .createTransport({ host: "127.0.0.1", port: inbox.server.email!.smtpPort!, secure: false, ignoreTLS: true })
    .sendMail(options);
const ticketsTitled = async (q: string) =>
  (await api(v1(`/tickets?q=${encodeURIComponent(q)}`), { token: inbox.token })).body.items as any[];

describe("mail to a ticket address", () => {
  it("makes a ticket of a new mail, tells the customer by mail with the number in the subject, and joins a reply naming it", async () => {
    const from = `kim-${inbox.tag}@x.test`;
    await send({ from, to: ticketAddress, subject: "发票金额不对", text: "发票上写的是 3 件，我只买了 2 件。" });
    const [ticket] = await until(
      () => ticketsTitled("发票金额不对"),
      (items) => items.length > 0,
    );
    expect(ticket).toMatchObject({
      title: "发票金额不对",
      description: "发票上写的是 3 件，我只买了 2 件。",
      source: { kind: "email" },
      status: "new",
    });
    expect(ticket.conversationId).not.toBeNull();

    // Mail to the ordinary support address makes no ticket.
    await inbox.mail({ from, subject: "Just a question", text: "Are you open on Sunday?" });
    await until(
      () => api(v1(`/conversations?inboxId=${inbox.inboxId}`), { token: inbox.token }),
      (r) => r.body.items.length > 0,
    );
    expect(await ticketsTitled("Just a question")).toEqual([]);

    const before = inbox.sink.received.length;
    await api(v1(`/tickets/${ticket.id}`), {
      token: inbox.token,
      method: "PATCH",
      body: { status: "pending_customer" },
    });
    const notice = await inbox.sink.waitFor(before + 1);
    expect(notice.mail.subject).toBe(`Re: 发票金额不对 [#${ticket.number}]`);
    expect(notice.envelope.to).toEqual([from]);

    // A reply from another address (a colleague of the customer) starts a new conversation: its subject
    // names the ticket, so it joins it instead of making another.
    const colleague = `lee-${inbox.tag}@x.test`;
    await send({ from: colleague, to: ticketAddress, subject: notice.mail.subject!, text: "附上正确的订单截图" });
    const joined = await until(
      () => api(v1(`/tickets/${ticket.id}`), { token: inbox.token }),
      (r) => r.body.conversationIds.length === 2,
    );
    expect(joined.body.status).toBe("open");
    expect(await ticketsTitled(`[#${ticket.number}]`)).toEqual([]);
    const entries = (await api(v1(`/tickets/${ticket.id}/entries`), { token: inbox.token })).body.items as any[];
    expect(entries.filter((e) => e.kind === "customer_message").map((e) => e.body.trim())).toEqual([
      "发票上写的是 3 件，我只买了 2 件。",
      "附上正确的订单截图",
    ]);
  });
});
