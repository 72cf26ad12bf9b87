import { afterAll, beforeAll, expect, it } from "bun:test";
import nodemailer from "nodemailer";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
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

  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: s.email!.smtpPort!, secure: false, ignoreTLS: true });
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

  await page.getByTestId("email-replyAll").check();
  await page.getByTestId("composer-input").fill("We will send a new one.");
  await page.getByTestId("send").click();
  const sent = await sink.waitFor(1);
  expect(sent.envelope.to.sort()).toEqual([`lee-${tag}@x.test`, `mia-${tag}@x.test`]);
  expect(sent.mail.subject).toBe("Re: Broken hinge");
  await page.getByTestId("delivery").last().and(page.locator("[data-status=sent]")).waitFor();
  const token = await s.login(s.admin.email, s.admin.password);
  expect((await api(`${s.url}/api/v1/inboxes`, { token })).body.items.some((i: any) => i.channel === "email")).toBe(true);
}, 60_000);
