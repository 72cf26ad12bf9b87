import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let agent: string;
let otherAdmin: string;

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  otherAdmin = await other.login(other.admin.email, other.admin.password);
}, 60_000);
afterAll(async () => {
  await s.stop();
  await other.stop();
});

/** A web chat visitor who wrote `texts`: their conversation's id. */
async function customerWrote(server: TestServer, ...texts: string[]) {
  const v = await api(`${server.url}/widget/v1/sessions`, {
    body: { inboxKey: server.inbox.publicKey, name: "Li Na" },
  });
  let conversationId = "";
  for (const text of texts) {
    const sent = await api(`${server.url}/widget/v1/messages`, { token: v.body.visitorToken, body: { text } });
    expect(sent.status).toBe(201);
    conversationId = sent.body.conversationId;
  }
  return { conversationId, visitorToken: v.body.visitorToken as string, contactId: v.body.contact.id as string };
}

const v1 = (server: TestServer, path: string) => `${server.url}/api/v1${path}`;

describe("tickets: the public contract", () => {
  it("makes a numbered ticket from a conversation, carrying the customer's messages, and lists and changes it", async () => {
    const { conversationId, contactId } = await customerWrote(s, "水壶坏了", "订单号 A-1001");
    const made = await api(v1(s, `/conversations/${conversationId}/tickets`), {
      token: agent,
      body: { title: "Broken kettle", type: "repair", priority: "high" },
    });
    expect(made.status).toBe(201);
    expect(made.body.id).toMatch(/^[0-9a-f-]{36}$/);
    // (Bun's toMatchObject writes its asymmetric matchers into the object it checks: plain values only.)
    expect(made.body).toMatchObject({
      number: 1001,
      status: "new",
      type: "repair",
      priority: "high",
      contactId,
      conversationId,
      conversationIds: [conversationId],
      source: { kind: "conversation" },
      contact: { id: contactId, name: "Li Na" },
      sla: null,
    });
    expect(Number.isInteger(made.body.number)).toBe(true);

    const entries = await api(v1(s, `/tickets/${made.body.id}/entries`), { token: agent });
    expect(entries.body.items.map((e: any) => [e.kind, e.body])).toEqual([
      ["customer_message", "水壶坏了"],
      ["customer_message", "订单号 A-1001"],
      ["change", "created"],
    ]);
    // The conversation shows the ticket on its timeline.
    const timeline = await api(v1(s, `/conversations/${conversationId}/timeline`), { token: agent });
    expect(timeline.body.items.find((i: any) => i.eventType === "ticket_created")?.data).toMatchObject({
      ticketId: made.body.id,
      number: 1001,
      title: "Broken kettle",
    });

    const second = await api(v1(s, "/tickets"), { token: admin, body: { title: "Invoice missing", type: "inquiry" } });
    expect(second.status).toBe(201);
    expect(second.body.number).toBe(1002);

    // Numbers are per workspace: the other one starts at #1001 too.
    const elsewhere = await api(v1(other, "/tickets"), { token: otherAdmin, body: { title: "别处的工单" } });
    expect(elsewhere.body.number).toBe(1001);

    const patched = await api(v1(s, `/tickets/${made.body.id}`), {
      token: agent,
      method: "PATCH",
      body: { status: "open", assigneeId: s.agent.id },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: "open", assigneeId: s.agent.id });

    const open = await api(v1(s, "/tickets?status=open,pending_customer"), { token: agent });
    expect(open.status).toBe(200);
    expect(open.body.items.map((t: any) => t.number)).toEqual([1001]);
    expect(open.body.nextCursor).toBeNull();
    const mine = await api(v1(s, `/tickets?assignee=me`), { token: agent });
    expect(mine.body.items.map((t: any) => t.number)).toEqual([1001]);
    const nobody = await api(v1(s, `/tickets?assignee=none`), { token: agent });
    expect(nobody.body.items.map((t: any) => t.number)).toEqual([1002]);
    const byNumber = await api(v1(s, `/tickets?q=%231002`), { token: agent });
    expect(byNumber.body.items.map((t: any) => t.number)).toEqual([1002]);

    // A page at a time, most recently changed first.
    const page = await api(v1(s, "/tickets?limit=1"), { token: admin });
    expect(page.body.items.map((t: any) => t.number)).toEqual([1001]);
    const next = await api(v1(s, `/tickets?limit=1&cursor=${page.body.nextCursor}`), { token: admin });
    expect(next.body.items.map((t: any) => t.number)).toEqual([1002]);
    expect(next.body.nextCursor).toBeNull();

    // By number, with its conversations.
    const detail = await api(v1(s, "/tickets/1001"), { token: agent });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ id: made.body.id, links: [], conversations: [{ id: conversationId }] });
    // The contact's timeline lists it.
    const ofContact = await api(v1(s, `/contacts/${contactId}/tickets`), { token: agent });
    expect(ofContact.body.items.map((t: any) => t.id)).toEqual([made.body.id]);
  });

  it("answers 404 for another workspace's ticket, by id or by number", async () => {
    const theirs = await api(v1(other, "/tickets"), { token: otherAdmin, body: { title: "Theirs" } });
    expect(theirs.status).toBe(201);
    expect((await api(v1(s, `/tickets/${theirs.body.id}`), { token: admin })).status).toBe(404);
    expect(
      (await api(v1(s, `/tickets/${theirs.body.id}`), { token: admin, method: "PATCH", body: { status: "open" } }))
        .status,
    ).toBe(404);
    expect((await api(v1(s, `/tickets/${theirs.body.id}/entries`), { token: admin })).status).toBe(404);
    // A number only this workspace has not used yet: guessed from the other one.
    expect((await api(v1(s, `/tickets/${theirs.body.number + 500}`), { token: admin })).status).toBe(404);
    // And ids of another workspace's team or conversation are refused by name.
    const { conversationId } = await customerWrote(other, "hello");
    const refused = await api(v1(s, "/tickets"), { token: admin, body: { title: "x", conversationId } });
    expect(refused.status).toBe(404);
    expect(refused.body.error.field).toBe("conversationId");
    const fromTheirs = await api(v1(s, `/conversations/${conversationId}/tickets`), {
      token: admin,
      body: { title: "x" },
    });
    expect(fromTheirs.status).toBe(404);
  });

  it("checks the type and custom fields, naming the field at fault", async () => {
    const types = await api(v1(s, "/ticket-types"), { token: agent });
    expect(types.body.items.map((t: any) => [t.name, t.labels["zh-CN"]])).toEqual([
      ["complaint", "投诉"],
      ["refund", "退款"],
      ["repair", "维修"],
      ["inquiry", "咨询"],
    ]);
    const badType = await api(v1(s, "/tickets"), { token: agent, body: { title: "x", type: "nonsense" } });
    expect(badType.status).toBe(400);
    expect(badType.body.error.field).toBe("type");

    for (const field of [
      { key: "order_no", label: "订单号", kind: "text", required: true },
      { key: "amount", label: "Amount", kind: "number" },
      { key: "bought_on", label: "Bought on", kind: "date" },
      { key: "store", label: "Store", kind: "select", options: ["online", "门店"] },
    ])
      expect((await api(v1(s, "/ticket-fields"), { token: admin, body: field })).status).toBe(201);
    expect(
      (await api(v1(s, "/ticket-fields"), { token: agent, body: { key: "x", label: "x", kind: "text" } })).status,
    ).toBe(403);

    const cases: [Record<string, unknown>, string][] = [
      [{ amount: 3 }, "fields.order_no"],
      [{ order_no: "A1", amount: "3" }, "fields.amount"],
      [{ order_no: "A1", bought_on: "2025-02-30" }, "fields.bought_on"],
      [{ order_no: "A1", store: "phone" }, "fields.store"],
      [{ order_no: "A1", colour: "red" }, "fields.colour"],
    ];
    for (const [fields, name] of cases) {
      const r = await api(v1(s, "/tickets"), { token: agent, body: { title: "Fields", fields } });
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe(name);
    }
    const good = await api(v1(s, "/tickets"), {
      token: agent,
      body: { title: "Fields", fields: { order_no: "A1", amount: 12.5, bought_on: "2024-02-29", store: "门店" } },
    });
    expect(good.status).toBe(201);
    const merged = await api(v1(s, `/tickets/${good.body.id}`), {
      token: agent,
      method: "PATCH",
      body: { fields: { amount: null, store: "online" } },
    });
    expect(merged.body.fields).toEqual({ order_no: "A1", bought_on: "2024-02-29", store: "online" });
    const entries = await api(v1(s, `/tickets/${good.body.id}/entries`), { token: agent });
    const changes = entries.body.items.filter((e: any) => e.kind === "change").map((e: any) => e.data);
    expect(changes[0].field).toBe("created");
    // One entry per changed field, in the same moment.
    expect(changes.slice(1).sort((a: any, b: any) => a.field.localeCompare(b.field))).toEqual([
      { field: "fields.amount", from: 12.5, to: null },
      { field: "fields.store", from: "门店", to: "online" },
    ]);
    // Nothing half-applied: a bad field leaves the status alone too.
    const bad = await api(v1(s, `/tickets/${good.body.id}`), {
      token: agent,
      method: "PATCH",
      body: { status: "open", fields: { amount: "many" } },
    });
    expect(bad.body.error.field).toBe("fields.amount");
    expect((await api(v1(s, `/tickets/${good.body.id}`), { token: agent })).body.status).toBe("new");
    // Other tests of this file make tickets without fields.
    for (const f of (await api(v1(s, "/ticket-fields"), { token: admin })).body.items)
      expect((await api(v1(s, `/ticket-fields/${f.id}`), { token: admin, method: "DELETE" })).status).toBe(204);
  });
});
