import { afterAll, beforeAll, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { residentIdCheck } from "../../../platform/pii.ts";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

let s: TestServer;
let browser: Browser;
let admin: string;
const SETUP_MS = 60_000;
const ID = "11010519491231002" + residentIdCheck("11010519491231002");

beforeAll(async () => {
  s = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

it("masks an ID number in the list and conversation until Reveal, and the audit log screen shows the reveal", async () => {
  const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${s.url}/widget/v1/messages`, { token, body: { text: `身份证 ${ID}` } });
  const id = sent.body.conversationId as string;

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all/${id}`);
  const text = page.getByTestId("item-text").filter({ hasText: "身份证" });
  await text.waitFor();
  expect(await text.textContent()).toBe("身份证 110105********002X");
  expect(await page.locator(".last-message").filter({ hasText: "身份证" }).first().textContent()).toBe(
    "身份证 110105********002X",
  );
  await page.getByTestId("pii-reveal").click();
  await page.getByTestId("item-text").filter({ hasText: ID }).waitFor();

  await page.goto(`${s.url}/app/#/admin/privacy`);
  const log = page.getByTestId("audit-log");
  const row = log.locator('tr[data-action="pii.reveal"]');
  await row.waitFor();
  expect(await row.textContent()).toContain("Admin");
  const retention = page.getByTestId("retention-form");
  await retention.locator('input[name="days"]').fill("90");
  await retention.getByRole("button", { name: "Save retention" }).click();
  await page.getByText("Retention saved.").waitFor();
  expect((await api(`${s.url}/api/v1/workspace/retention`, { token: admin })).body).toEqual({ days: 90 });
  await page.context().close();
});
