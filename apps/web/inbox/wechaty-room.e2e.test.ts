import { afterAll, beforeAll, expect, it } from "bun:test";
import { sql } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { WechatyBuilder } from "wechaty";
import { mock, PuppetMock } from "wechaty-puppet-mock";
import type { WechatyFactory } from "../../gateway/wechat/wechaty-bot.ts";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/** A WeChat group served by a Wechaty bot (wechaty-puppet-mock), seen in the inbox: its members as participants. */
let s: TestServer;
let browser: Browser;
const mockers: mock.Mocker[] = [];
const build: WechatyFactory = () => {
  const mocker = new mock.Mocker();
  mockers.push(mocker);
  return WechatyBuilder.build({ puppet: new PuppetMock({ mocker }) });
};
const SETUP_MS = 60_000;

beforeAll(async () => {
  s = await startTestServer({ wechaty: { build, pollMs: 100 } });
  browser = await launchChromium();
}, SETUP_MS);

afterAll(async () => {
  // Left stopped: a node started later on this database (main.ts) must not run its bot.
  await s?.rt.core.db.execute(
    sql`UPDATE inboxes SET settings = settings || '{"stopped": true}'::jsonb WHERE workspace_id = ${s.workspaceId}
      AND channel = 'wechat'`,
  );
  await browser?.close();
  await s?.stop();
}, SETUP_MS);

it("shows a WeChat group's members under the conversation's header, each opening their contact", async () => {
  const admin = await s.login(s.admin.email, s.admin.password);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: { name: "客服微信", channel: "wechat", kind: "wechaty", puppet: "wechaty-puppet-mock" },
  });
  expect(created.status).toBe(201);
  await until(
    async () => mockers.length,
    (n) => n === 1,
  );
  const mocker = mockers[0]!;
  const self = mocker.createContact({ name: "客服小微" });
  mocker.login(self);
  await until(
    async () => (await api(`${s.url}/api/v1/inboxes/${created.body.id}/wechaty`, { token: admin })).body.status,
    (status) => status === "logged_in",
  );
  const bob = mocker.createContact({ name: "Bob 张" });
  const carol = mocker.createContact({ name: "Carol 陈" });
  const room = mocker.createRoom({ topic: "售后群", memberIdList: [self.id, bob.id, carol.id] });
  bob.say("耳机坏了").to(room);

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all`);
  await page.getByTestId("conversation-row").filter({ hasText: "耳机坏了" }).click();
  const people = page.getByTestId("participant");
  await people.filter({ hasText: "Carol 陈" }).waitFor();
  expect((await people.allInnerTexts()).map((t) => t.split(" <")[0]).sort()).toEqual(["Bob 张", "Carol 陈"]);
  await people.filter({ hasText: "Bob 张" }).click();
  // His contact is the one of his Wechaty id: the same contact as his direct chat with the bot.
  await page.getByTestId("identities").getByText(bob.id).waitFor();
});
