import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

let s: TestServer;
let admin: string;
let agent: string;

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
}, 60_000);
afterAll(() => s.stop());

const v1 = (path: string) => `${s.url}/api/v1${path}`;

/** A web chat visitor with their widget socket open, who wrote `text`. */
async function visitorWrote(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, name: "Chen Jie" } });
  const token = session.body.visitorToken as string;
  const socket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${token}`);
  await socket.waitFor((f) => f.type === "hello");
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text } });
  expect(sent.status).toBe(201);
  return { token, socket, conversationId: sent.body.conversationId as string, contactId: session.body.contact.id };
}

const entriesOf = async (ticketId: string) =>
  (await api(v1(`/tickets/${ticketId}/entries`), { token: agent })).body.items as any[];

describe("the customer and their ticket", () => {
  it("tells a web chat customer of each status change in the widget, in their language, leaving the conversation resolved", async () => {
    const v = await visitorWrote("The screen stays black");
    const ticket = (
      await api(v1(`/conversations/${v.conversationId}/tickets`), { token: agent, body: { title: "Black screen" } })
    ).body;
    const resolved = await api(v1(`/conversations/${v.conversationId}/status`), {
      token: agent,
      body: { status: "resolved" },
    });
    expect(resolved.status).toBe(200);

    const working = await api(v1(`/tickets/${ticket.id}`), { token: agent, method: "PATCH", body: { status: "open" } });
    expect(working.status).toBe(200);
    const told = await v.socket.waitFor((f) => f.type === "item.created" && f.item.direction === "out");
    expect(told.item.text).toBe(`Your ticket #${ticket.number} is now being worked on.`);
    // Told, not reopened: the conversation stays resolved.
    const conversation = await api(v1(`/conversations/${v.conversationId}`), { token: agent });
    expect(conversation.body.status).toBe("resolved");
    expect((await entriesOf(ticket.id)).find((e) => e.kind === "notification")).toMatchObject({
      body: `Your ticket #${ticket.number} is now being worked on.`,
      data: { status: "open", sent: true, language: "en" },
    });

    // A Chinese-speaking customer reads Chinese; the workspace's own text wins over the built-in one.
    await api(v1(`/contacts/${v.contactId}`), {
      token: admin,
      method: "PATCH",
      body: { attributes: { language: "zh-CN" } },
    });
    const solved = await api(v1(`/tickets/${ticket.id}`), {
      token: agent,
      method: "PATCH",
      body: { status: "solved" },
    });
    expect(solved.body.solvedAt).not.toBeNull();
    await v.socket.waitFor(
      (f) => f.type === "item.created" && f.item.text === `您的工单 #${ticket.number} 已解决。如仍有问题，请直接回复。`,
    );
    const notices = await api(v1("/ticket-notices"), {
      token: admin,
      method: "PUT",
      body: { closed: { "zh-CN": "工单 #{number}（{title}）已关闭。" } },
    });
    expect(notices.status).toBe(200);
    expect(notices.body.notices).toEqual({ closed: { "zh-CN": "工单 #{number}（{title}）已关闭。" } });
    await api(v1(`/tickets/${ticket.id}`), { token: agent, method: "PATCH", body: { status: "closed" } });
    await v.socket.waitFor(
      (f) => f.type === "item.created" && f.item.text === `工单 #${ticket.number}（Black screen）已关闭。`,
    );
    expect((await api(v1(`/conversations/${v.conversationId}`), { token: agent })).body.status).toBe("resolved");

    // Closed is final: nothing but an agent's reopening.
    const changed = await api(v1(`/tickets/${ticket.id}`), {
      token: agent,
      method: "PATCH",
      body: { priority: "high" },
    });
    expect(changed.status).toBe(409);
    const reopened = await api(v1(`/tickets/${ticket.id}`), {
      token: agent,
      method: "PATCH",
      body: { status: "open" },
    });
    expect(reopened.body).toMatchObject({ status: "open", closedAt: null, solvedAt: null });
    v.socket.close();
  });

  it("adds the customer's reply to the ticket and takes it out of pending customer", async () => {
    const v = await visitorWrote("My parcel is lost");
    const ticket = (
      await api(v1(`/conversations/${v.conversationId}/tickets`), { token: agent, body: { title: "Lost parcel" } })
    ).body;
    await api(v1(`/tickets/${ticket.id}`), { token: agent, method: "PATCH", body: { status: "pending_customer" } });
    await v.socket.waitFor((f) => f.type === "item.created" && f.item.direction === "out");
    await api(`${s.url}/widget/v1/messages`, { token: v.token, body: { text: "Tracking number SF123" } });
    const back = await until(
      () => api(v1(`/tickets/${ticket.id}`), { token: agent }),
      (r) => r.body.status === "open",
    );
    expect(back.body.status).toBe("open");
    const entries = await entriesOf(ticket.id);
    expect(entries.filter((e) => e.kind === "customer_message").map((e) => e.body)).toEqual([
      "My parcel is lost",
      "Tracking number SF123",
    ]);
    const reopen = entries.find((e) => e.kind === "change" && e.data.field === "status" && e.data.to === "open");
    expect(reopen).toMatchObject({ author: null, data: { from: "pending_customer" } });

    // Solved, then the customer writes again: not helped yet, so open again.
    await api(v1(`/tickets/${ticket.id}`), { token: agent, method: "PATCH", body: { status: "solved" } });
    await api(`${s.url}/widget/v1/messages`, { token: v.token, body: { text: "Still not here" } });
    const again = await until(
      () => api(v1(`/tickets/${ticket.id}`), { token: agent }),
      (r) => r.body.status === "open",
    );
    expect(again.body).toMatchObject({ status: "open", solvedAt: null });
    v.socket.close();
  });

  it("notifies the agents a comment mentions, on their socket only, and an assignee given a ticket by someone else", async () => {
    const bob = await s.signInAs("agent", "Bob Stone");
    const bobId = (await api(v1("/me"), { token: bob })).body.id as string;
    const annSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${agent}`);
    const bobSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${bob}`);
    await annSocket.waitFor((f) => f.type === "hello");
    await bobSocket.waitFor((f) => f.type === "hello");
    const ticket = (await api(v1("/tickets"), { token: admin, body: { title: "Refund for order 88" } })).body;

    const comment = await api(v1(`/tickets/${ticket.id}/comments`), {
      token: admin,
      body: { body: "@Agent Ann 请看一下这个退款" },
    });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({ kind: "comment", author: { name: "Admin" } });
    const mine = await annSocket.waitFor((f) => f.type === "notification.created");
    expect(mine.notification).toMatchObject({ kind: "mention", ticketId: ticket.id });
    // Bob hears the ticket change but not Ann's notification.
    await bobSocket.waitFor((f) => f.type === "ticket.updated" && f.ticketId === ticket.id);
    expect(bobSocket.frames.some((f) => f.type === "notification.created")).toBe(false);

    await api(v1(`/tickets/${ticket.id}`), { token: admin, method: "PATCH", body: { assigneeId: s.agent.id } });
    await annSocket.waitFor((f) => f.type === "notification.created" && f.notification.kind === "ticket_assigned");
    const bell = await api(v1("/notifications"), { token: agent });
    expect(bell.body.unread).toBe(2);
    expect(bell.body.items.map((n: any) => n.kind)).toEqual(["ticket_assigned", "mention"]);
    await api(v1("/notifications/read"), { token: agent, body: { ids: [bell.body.items[0].id] } });
    expect((await api(v1("/notifications"), { token: agent })).body.unread).toBe(1);
    await api(v1("/notifications/read"), { token: agent, body: {} });
    expect((await api(v1("/notifications"), { token: agent })).body.unread).toBe(0);
    expect((await api(v1("/notifications"), { token: bob })).body.items).toEqual([]);
    // Made for Bob by someone else: Bob is told; made by Bob for himself: not.
    await api(v1("/tickets"), { token: admin, body: { title: "For Bob", assigneeId: bobId } });
    await bobSocket.waitFor((f) => f.type === "notification.created" && f.notification.kind === "ticket_assigned");
    await api(v1("/tickets"), { token: bob, body: { title: "Bob's own", assigneeId: bobId } });
    expect((await api(v1("/notifications"), { token: bob })).body.items.map((n: any) => n.text)).toEqual([
      expect.stringContaining("For Bob"),
    ]);
    annSocket.close();
    bobSocket.close();
  });

  it("shows an agent only the tickets the conversation rule lets them see", async () => {
    const team = (
      await api(v1("/teams"), { token: admin, body: { name: `Billing ${crypto.randomUUID().slice(0, 6)}` } })
    ).body;
    const theirs = await api(v1("/tickets"), {
      token: admin,
      body: { title: "Billing dispute", teamId: team.id, assigneeId: s.admin.id },
    });
    expect(theirs.status).toBe(201);
    expect((await api(v1(`/tickets/${theirs.body.id}`), { token: agent })).status).toBe(404);
    expect((await api(v1(`/tickets/${theirs.body.number}`), { token: agent })).status).toBe(404);
    const list = await api(v1(`/tickets?teamId=${team.id}`), { token: agent });
    expect(list.body.items).toEqual([]);
    expect((await api(v1(`/tickets?teamId=${team.id}`), { token: admin })).body.items.map((t: any) => t.id)).toEqual([
      theirs.body.id,
    ]);
    // A knowledge editor reads no tickets at all.
    const editor = await s.signInAs("knowledge_editor");
    expect((await api(v1("/tickets"), { token: editor })).status).toBe(403);
  });

  it("links tickets, refusing a self-link and a circle of parents", async () => {
    const make = async (title: string) => (await api(v1("/tickets"), { token: agent, body: { title } })).body;
    const [a, b, c] = [await make("Outage"), await make("Router down"), await make("Router down again")];
    expect(
      (await api(v1(`/tickets/${b.id}/links`), { token: agent, body: { ticketId: a.id, kind: "parent" } })).status,
    ).toBe(201);
    expect(
      (await api(v1(`/tickets/${c.id}/links`), { token: agent, body: { ticketId: b.id, kind: "parent" } })).status,
    ).toBe(201);
    const circle = await api(v1(`/tickets/${a.id}/links`), { token: agent, body: { ticketId: c.id, kind: "parent" } });
    expect(circle.status).toBe(400);
    expect(circle.body.error.field).toBe("ticketId");
    const self = await api(v1(`/tickets/${a.id}/links`), { token: agent, body: { ticketId: a.id, kind: "related" } });
    expect(self.status).toBe(400);
    const dup = await api(v1(`/tickets/${c.id}/links`), {
      token: agent,
      body: { ticketId: String(b.number), kind: "duplicate" },
    });
    expect(dup.status).toBe(201);

    const detail = await api(v1(`/tickets/${b.id}`), { token: agent });
    expect(detail.body.links.map((l: any) => [l.number, l.kind, l.direction]).sort()).toEqual([
      [a.number, "parent", "outgoing"],
      [c.number, "duplicate", "incoming"],
      [c.number, "parent", "incoming"],
    ]);
    expect((await api(v1(`/tickets/${b.id}/links/${c.id}`), { token: agent, method: "DELETE" })).status).toBe(204);
    expect((await api(v1(`/tickets/${b.id}`), { token: agent })).body.links.map((l: any) => l.number)).toEqual([
      a.number,
    ]);
    // Unlinked, the circle is no circle any more.
    expect(
      (await api(v1(`/tickets/${a.id}/links`), { token: agent, body: { ticketId: c.id, kind: "parent" } })).status,
    ).toBe(201);
  });
});
