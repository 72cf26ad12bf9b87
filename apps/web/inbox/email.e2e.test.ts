import { afterAll, beforeAll, expect, it } from "bun:test";
import nodemailer from "nodemailer";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { startSmtpSink } from "../../../test/smtp-sink.ts";

let s: TestServer;
let browser: Browser;
let sink: Awaited<ReturnType<typeof startSmtpSink>>;
const SETUP_MS = 60_000;
const tag = crypto.randomUUID().slice(0, 8);

beforeAll(async () => {
  s = await startTestServer({ email: { smtp: true } });
  sink = await startSmtpSink();
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await sink?.stop();
}, SETUP_MS);

it("sets up a mailbox in the admin screen, shows a customer's mail with its headers and quote, and sends a reply-all", async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/admin/inboxes`);
  await page.getByTestId("add-email-inbox").click();
  const form = page.getByTestId("email-inbox-form");
  await form.locator("input[name=name]").fill("Support mail");
  await form.locator("input[name=address]").fill(`help-${tag}@acme.test`);
  await form.locator("input[name=smtpHost]").fill("127.0.0.1");
  await form.locator("input[name=smtpPort]").fill(String(sink.port));
  await form.locator("select[name=smtpSecurity]").selectOption("none");
  await page.getByTestId("email-inbox-save").click();
  await page.getByTestId("inbox-list").getByText("Support mail").waitFor();
  // An address an admin gives routes mail once proven (its own test proves it through the screen).
  const admin = await s.login(s.admin.email, s.admin.password);
  const made = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items.find(
    (i: any) => i.name === "Support mail",
  );
  await s.proveRoutes(made.id);

  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: s.email!.smtpPort!,
    secure: false,
    ignoreTLS: true,
  });
  await transport.sendMail({
    from: `"Mia Wong" <mia-${tag}@x.test>`,
    to: `help-${tag}@acme.test`,
    cc: `lee-${tag}@x.test`,
    subject: "Broken hinge",
    text: "The hinge broke again.\n\nOn Mon, 2 Mar 2026, Acme <help@acme.test> wrote:\n> We replaced it.",
  });
  await page.goto(`${s.url}/app/#/inbox/all`);
  await page.getByTestId("conversation-row").filter({ hasText: "The hinge broke again." }).click();
  const mailItem = page.getByTestId("timeline-item").filter({ hasText: "Broken hinge" });
  await mailItem.waitFor();
  expect(await mailItem.innerText()).toContain(`lee-${tag}@x.test`);
  expect(await mailItem.locator("details.quoted").getAttribute("open")).toBeNull();
  expect(await mailItem.getByTestId("item-text").innerText()).toBe("The hinge broke again.");
  // The Cc'd person is a participant, a contact of their own: a click shows them in the side panel.
  const participant = page.getByTestId("participant").filter({ hasText: `lee-${tag}@x.test` });
  await participant.waitFor();
  await participant.click();
  await page.getByTestId("identities").getByText(`lee-${tag}@x.test`).waitFor();
  expect(await page.getByTestId("identities").innerText()).not.toContain(`mia-${tag}@x.test`);

  await page.getByTestId("email-replyAll").check();
  await page.getByTestId("composer-input").fill("We will send a new one.");
  await page.getByTestId("send").click();
  const sent = await sink.waitFor(1);
  expect(sent.envelope.to.sort()).toEqual([`lee-${tag}@x.test`, `mia-${tag}@x.test`]);
  expect(sent.mail.subject).toBe("Re: Broken hinge");
  await page.getByTestId("delivery").last().and(page.locator("[data-status=sent]")).waitFor();
  const token = await s.login(s.admin.email, s.admin.password);
  expect((await api(`${s.url}/api/v1/inboxes`, { token })).body.items.some((i: any) => i.channel === "email")).toBe(
    true,
  );
}, 60_000);

it("lists held-back mail in the spam view, and 'Not spam' files it into the conversation it answers", async () => {
  const token = await s.login(s.admin.email, s.admin.password);
  const address = `spam-${tag}@acme.test`;
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token,
    body: { name: "Spam check", channel: "email", email: { address } },
  });
  expect(created.status).toBe(201);
  await s.proveRoutes(created.body.id);
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: s.email!.smtpPort!,
    secure: false,
    ignoreTLS: true,
  });
  const from = `ola-${tag}@x.test`;
  await transport.sendMail({
    from,
    to: address,
    subject: "Lost parcel",
    text: "My parcel is lost.",
    messageId: `<lp1-${tag}@x.test>`,
  });
  await transport.sendMail({
    from,
    to: address,
    subject: "Re: Lost parcel",
    text: "Found it at the neighbour's.",
    messageId: `<lp2-${tag}@x.test>`,
    inReplyTo: `<lp1-${tag}@x.test>`,
    headers: { "X-Spam-Flag": "YES" },
  });
  // The spam view lists what is held when it opens: wait until the held mail is stored (a busy machine).
  await until(
    () => api(`${s.url}/api/v1/inboxes/${created.body.id}/email/spam`, { token }),
    (r) => JSON.stringify(r.body).includes("Re: Lost parcel"),
    30_000,
  );

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/admin/spam`);
  await page.getByTestId("spam-inbox").selectOption({ label: "Spam check" });
  const row = page.getByTestId("spam-row").filter({ hasText: "Re: Lost parcel" });
  await row.waitFor();
  const cells = await row.locator("td").allInnerTexts();
  expect(cells.slice(0, 3)).toEqual([from, "Re: Lost parcel", "Flagged as spam"]);
  expect(cells[3]!.length).toBeGreaterThan(0);

  await row.getByTestId("spam-release").click();
  await page.getByTestId("spam-released").waitFor();
  await row.waitFor({ state: "detached" });
  await page.getByTestId("spam-open-conversation").click();
  // The released mail is in the conversation it answers, after the first one.
  const timeline = page.getByTestId("timeline-item");
  await timeline.filter({ hasText: "Found it at the neighbour's." }).waitFor();
  const texts = await page.getByTestId("item-text").allInnerTexts();
  expect(texts.indexOf("My parcel is lost.")).toBeGreaterThanOrEqual(0);
  expect(texts.indexOf("Found it at the neighbour's.")).toBeGreaterThan(texts.indexOf("My parcel is lost."));
  // And the conversation list shows it as the latest message.
  await page.goto(`${s.url}/app/#/inbox/all`);
  await page.getByTestId("conversation-row").filter({ hasText: "Found it at the neighbour's." }).waitFor();

  // In Chinese the screen speaks Chinese.
  await page.getByTestId("locale").selectOption("zh-CN");
  await page.goto(`${s.url}/app/#/admin/spam`);
  await page.getByTestId("spam-inbox").selectOption({ label: "Spam check" });
  await page.getByTestId("spam-empty").waitFor();
  expect(await page.getByTestId("spam-empty").innerText()).toBe("没有被拦下的邮件。");
}, 60_000);

it("proves an address in the admin screen: the mailed code is entered there, then mail for it arrives", async () => {
  const address = `proof-${tag}@acme.test`;
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/admin/inboxes`);
  await page.getByTestId("add-email-inbox").click();
  const form = page.getByTestId("email-inbox-form");
  await form.locator("input[name=name]").fill("Proof mail");
  await form.locator("input[name=address]").fill(address);
  await form.locator("input[name=smtpHost]").fill("127.0.0.1");
  await form.locator("input[name=smtpPort]").fill(String(sink.port));
  await form.locator("select[name=smtpSecurity]").selectOption("none");
  await page.getByTestId("email-inbox-save").click();
  const card = page.getByTestId("inbox-list").locator("li[data-inbox-id]").filter({ hasText: "Proof mail" });
  await card.getByTestId("email-settings").click();
  const row = card.getByTestId("email-address").filter({ hasText: address });
  await row.getByTestId("email-address-status").getByText("Not verified", { exact: true }).waitFor();

  // Unproven: SMTP-in refuses the address.
  const port = s.email!.smtpPort!;
  const smtpIn = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
  const mail = (subject: string, text: string) =>
    smtpIn.sendMail({ from: `kai-${tag}@x.test`, to: address, subject, text });
  const refused = await mail("Too early", "x").catch((e) => e);
  expect((refused as { responseCode?: number }).responseCode).toBe(550);

  // The code goes out through the inbox's own server (the sink) to proof-…+verify-<code>@acme.test.
  await card.getByTestId("email-send-code").click();
  expect(await card.getByTestId("email-code-sent").innerText()).toContain(address);
  const mailed = await until(
    async () => sink.received.find((m) => m.envelope.to[0]!.startsWith(`proof-${tag}+verify-`)),
    (m) => m !== undefined,
  );
  const code = /\+verify-([0-9a-f]+)@/.exec(mailed!.envelope.to[0]!)![1]!;
  expect(mailed!.mail.text).toContain(code);

  // A wrong code is the server's 409, shown; the address stays unproven.
  await row.locator("input[name=code]").fill("0".repeat(code.length));
  await row.getByRole("button", { name: "Confirm" }).click();
  expect(await row.getByRole("alert").innerText()).toContain("Wrong or expired code");
  expect(await row.getAttribute("data-verified")).toBe("false");

  await row.locator("input[name=code]").fill(code);
  await row.getByRole("button", { name: "Confirm" }).click();
  await row.getByTestId("email-address-status").getByText("Verified", { exact: true }).waitFor();
  expect(await row.locator("input[name=code]").count()).toBe(0);

  // Proven: the same address now receives, and the mail shows in the inbox.
  await mail("Proven", "Now my mail arrives.");
  await page.goto(`${s.url}/app/#/inbox/all`);
  await page.getByTestId("conversation-row").filter({ hasText: "Now my mail arrives." }).waitFor();
}, 60_000);
