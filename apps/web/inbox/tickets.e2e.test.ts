import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let adminToken: string;
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer();
  adminToken = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

async function pageOf(who: { email: string; password: string }) {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, who.email, who.password);
  return page;
}

async function visitorMessage(text: string) {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const sent = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  return sent.body.conversationId as string;
}

async function newTicket(title: string) {
  const res = await api(`${s.url}/api/v1/tickets`, { token: adminToken, body: { title } });
  expect(res.status).toBe(201);
  return res.body as { id: string; number: number };
}

const row = (page: Page, text: string) => page.getByTestId("ticket-row").filter({ hasText: text });
const entry = (page: Page, text: string) => page.getByTestId("ticket-entry").filter({ hasText: text });

describe("tickets in the inbox, in a browser", () => {
  it("creates a ticket from a conversation through the dialog: #1001 in the list, linked from the conversation and the contact", async () => {
    const conversationId = await visitorMessage("My kettle arrived broken 水壶坏了");
    const page = await pageOf(s.admin);
    await page.goto(`${s.url}/app/#/inbox/all/${conversationId}`);
    await page.getByTestId("create-ticket").click();
    const dialog = page.getByTestId("create-ticket-dialog");
    await dialog.getByTestId("carry-message").first().waitFor();
    // The last customer message is the title, and the customer's messages are carried unless unticked.
    expect(await dialog.getByLabel("Title").inputValue()).toBe("My kettle arrived broken 水壶坏了");
    expect(await dialog.getByTestId("carry-message").first().isChecked()).toBe(true);
    await dialog.getByTestId("create-type").selectOption("repair");
    await dialog.getByTestId("create-priority").selectOption("high");
    await dialog.getByTestId("create-ticket-submit").click();

    await page.getByTestId("ticket").waitFor();
    expect(await page.getByTestId("ticket-heading-number").textContent()).toBe("#1001");
    expect(await page.getByTestId("ticket-title").textContent()).toBe("My kettle arrived broken 水壶坏了");
    expect(await page.getByTestId("ticket-type-select").inputValue()).toBe("repair");
    await page
      .getByTestId("ticket-entries")
      .locator("[data-kind=customer_message]")
      .filter({ hasText: "水壶坏了" })
      .waitFor();
    await page.getByTestId("ticket-conversations").locator(`a[href$="${conversationId}"]`).waitFor();

    await page.getByTestId("ticket-view-all").click();
    const listed = row(page, "#1001");
    await listed.waitFor();
    expect(await listed.textContent()).toContain("My kettle arrived broken");
    expect(await listed.getByTestId("ticket-priority").textContent()).toBe("High");

    // The conversation shows the ticket in its timeline, and its contact panel lists it.
    await page.goto(`${s.url}/app/#/inbox/all/${conversationId}`);
    const link = page.locator("[data-event=ticket_created]").getByTestId("ticket-link");
    await link.waitFor();
    expect(await link.textContent()).toContain("#1001");
    const contactTickets = page.getByTestId("contact-tickets");
    await contactTickets.getByText("#1001").waitFor();
    expect(await contactTickets.textContent()).toContain("New");
    await link.click();
    await page.getByTestId("ticket-heading-number").getByText("#1001").waitFor();
    await page.context().close();
  });

  it("filters the list by status and shows new tickets live", async () => {
    const waiting = await newTicket("Filter waiting on customer");
    await newTicket("Filter brand new");
    expect(
      (
        await api(`${s.url}/api/v1/tickets/${waiting.id}`, {
          token: adminToken,
          method: "PATCH",
          body: { status: "pending_customer" },
        })
      ).status,
    ).toBe(200);
    const page = await pageOf(s.admin);
    await page.goto(`${s.url}/app/#/tickets/all`);
    await row(page, "Filter brand new").waitFor();
    await row(page, "Filter waiting on customer").waitFor();

    await page.getByText("Filters").click();
    await page.getByTestId("filter-status").selectOption("pending_customer");
    await row(page, "Filter brand new").waitFor({ state: "detached" });
    await row(page, "Filter waiting on customer").waitFor();
    expect(await row(page, "Filter waiting on customer").getByTestId("ticket-status").textContent()).toBe(
      "Pending customer",
    );

    await page.getByTestId("filter-status").selectOption("");
    await row(page, "Filter brand new").waitFor();
    const live = await newTicket("Filter made while watching");
    await row(page, `#${live.number}`).waitFor();
    await page.context().close();
  });

  it("changes a ticket's status and shows it in the history; a wrong custom field value is shown at the field", async () => {
    const page = await pageOf(s.admin);
    // A number field made in Settings → Tickets.
    await page.goto(`${s.url}/app/#/admin/tickets`);
    const form = page.getByTestId("ticket-field-form");
    await form.locator("input[name=key]").fill("order_no");
    await form.locator("input[name=label]").fill("Order number");
    await form.locator("select[name=kind]").selectOption("number");
    await form.getByRole("button", { name: "Add" }).click();
    await page.locator("[data-testid=ticket-field-table] tr[data-key=order_no]").waitFor();

    const ticket = await newTicket("Change my status");
    await page.goto(`${s.url}/app/#/tickets/all/${ticket.id}`);
    await page.getByTestId("ticket-status-select").selectOption("open");
    await entry(page, "changed status from New to Open").waitFor();
    expect(await page.getByTestId("ticket").getAttribute("data-status")).toBe("open");

    await page.getByTestId("field-order_no").fill("12abc");
    await page.getByTestId("fields-save").click();
    const shown = page.getByTestId("ticket-fields").getByTestId("field-error");
    await shown.waitFor();
    expect(await page.getByTestId("field-order_no").getAttribute("aria-invalid")).toBe("true");
    const stored = await api(`${s.url}/api/v1/tickets/${ticket.id}`, { token: adminToken });
    expect(stored.body.fields.order_no ?? null).toBeNull();

    await page.getByTestId("field-order_no").fill("1042");
    await page.getByTestId("fields-save").click();
    await entry(page, "changed Order number from — to 1042").waitFor();
    expect(await shown.count()).toBe(0);
    expect((await api(`${s.url}/api/v1/tickets/${ticket.id}`, { token: adminToken })).body.fields.order_no).toBe(1042);
    await page.context().close();
  });

  it("a comment @mentioning an agent rings that agent's bell, not the author's, and leads to the ticket", async () => {
    const ticket = await newTicket("Mention the agent");
    const agent = await pageOf(s.agent);
    await agent.getByTestId("bell").waitFor();
    expect(await agent.getByTestId("bell-unread").count()).toBe(0);

    const page = await pageOf(s.admin);
    await page.goto(`${s.url}/app/#/tickets/all/${ticket.id}`);
    const box = page.getByTestId("ticket-comment");
    await box.pressSequentially("Please call the customer back @Agen");
    await page.getByTestId("mention-picker").getByText("Agent Ann").waitFor();
    await box.press("Enter");
    expect(await box.inputValue()).toBe("Please call the customer back @Agent Ann ");
    await box.pressSequentially("今天");
    await page.getByTestId("ticket-comment-send").click();
    await entry(page, "Please call the customer back @Agent Ann 今天").waitFor();

    await agent.getByTestId("bell-unread").getByText("1", { exact: true }).waitFor();
    await agent.getByTestId("bell").click();
    await agent.getByTestId("notification").first().click();
    await agent.locator(`[data-testid=ticket][data-ticket-id="${ticket.id}"]`).waitFor();
    await agent.getByTestId("bell-unread").waitFor({ state: "detached" });
    expect(await page.getByTestId("bell-unread").count()).toBe(0);
    await agent.context().close();
    await page.context().close();
  }, 60_000); // two people sign in, each in a browser context of their own

  it("takes the workspace's ticket types and notice texts from Settings; the customer's notice shows in the history", async () => {
    const page = await pageOf(s.admin);
    await page.goto(`${s.url}/app/#/admin/tickets`);
    const typeForm = page.getByTestId("ticket-type-form");
    await typeForm.getByLabel("Name").fill("warranty");
    await typeForm.getByLabel("Chinese label").fill("保修");
    await typeForm.getByRole("button", { name: "Add" }).click();
    await page.locator("[data-testid=ticket-types] li[data-type-name=warranty]").waitFor();
    await page.getByTestId("notice-open-en").fill("Ticket #{number}: we are on it.");
    await page.getByTestId("ticket-notices").getByRole("button", { name: "Save" }).click();
    await page.getByTestId("ticket-notices").getByText("Saved.").waitFor();
    const notices = await api(`${s.url}/api/v1/ticket-notices`, { token: adminToken });
    expect(notices.body.notices.open.en).toBe("Ticket #{number}: we are on it.");

    const conversationId = await visitorMessage("Still under warranty? 还在保修期吗？");
    const made = await api(`${s.url}/api/v1/conversations/${conversationId}/tickets`, {
      token: adminToken,
      body: { title: "Warranty question", type: "warranty" },
    });
    expect(made.status).toBe(201);
    await page.goto(`${s.url}/app/#/tickets/all/${made.body.id}`);
    expect(await page.getByTestId("ticket-type-select").inputValue()).toBe("warranty");
    await page.getByTestId("ticket-status-select").selectOption("open");
    const told = page.getByTestId("ticket-entries").locator("[data-kind=notification]");
    await told.waitFor();
    expect(await told.textContent()).toContain(`Ticket #${made.body.number}: we are on it.`);
    expect(await told.textContent()).toContain("Web chat");
    await page.context().close();
  });

  it("links a ticket to another by its number, shows the link from both sides, refuses a self-link and removes it", async () => {
    const a = await newTicket("Link source");
    const b = await newTicket("Link target");
    const page = await pageOf(s.admin);
    await page.goto(`${s.url}/app/#/tickets/all/${a.id}`);
    await page.getByTestId("link-number").fill(`#${b.number}`);
    await page.getByTestId("link-kind").selectOption("duplicate");
    await page.getByRole("button", { name: "Link", exact: true }).click();
    const links = page.getByTestId("ticket-links");
    await links.getByText(`Duplicate of`).waitFor();
    expect(await links.textContent()).toContain(`#${b.number} Link target`);

    await page.getByTestId("link-number").fill(String(a.number));
    await page.getByRole("button", { name: "Link", exact: true }).click();
    await page.locator(".ticket-links [role=alert]").waitFor();

    await page.goto(`${s.url}/app/#/tickets/all/${b.id}`);
    await page.getByTestId("ticket-links").getByText("Duplicated by").waitFor();
    await page.getByRole("button", { name: `Remove the link to #${a.number}` }).click();
    await page.getByTestId("ticket-links").locator("li").waitFor({ state: "detached" });
    const detail = await api(`${s.url}/api/v1/tickets/${a.id}`, { token: adminToken });
    expect(detail.body.links).toEqual([]);
    await page.context().close();
  });

  it("shows the ticket screens in Chinese", async () => {
    const ticket = await newTicket("中文工单");
    const page = await pageOf(s.admin);
    await page.getByTestId("locale").selectOption("zh-CN");
    await page.getByRole("link", { name: "工单", exact: true }).click();
    await page.getByTestId("ticket-view-mine").getByText("我的").waitFor();
    await page.getByTestId("ticket-view-all").click();
    await row(page, "中文工单").getByText("新建").waitFor();
    await row(page, "中文工单").click();
    await page.getByTestId("ticket").getByText("历史记录").waitFor();
    await entry(page, "创建了工单").waitFor();
    expect(await page.getByTestId("ticket-comment").getAttribute("placeholder")).toContain("提及同事");
    expect(await page.getByTestId("ticket-heading-number").textContent()).toBe(`#${ticket.number}`);
    await page.context().close();
  });
});
