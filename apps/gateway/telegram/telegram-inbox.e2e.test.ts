import { afterAll, beforeAll, expect, it } from "bun:test";
import type { Browser } from "playwright-core";
import { launchChromium, signIn } from "../../../test/browser.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { postUpdate, startBotApiStandIn, telegramCustomers, telegramItemsOf } from "../../../test/telegram-bot-api.ts";

/** A Telegram conversation as an agent sees it in the inbox: the /start event, the greeting, files. */

const SECRET = "test-telegram-secret-browser";
const bot = startBotApiStandIn();
const { newUser, update } = telegramCustomers();
let s: TestServer;
let browser: Browser;
let inboxId: string;

beforeAll(async () => {
  s = await startTestServer({ env: { TELEGRAM_API_BASE: bot.url } });
  browser = await launchChromium();
  const admin = await s.login(s.admin.email, s.admin.password);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: { name: "Telegram", channel: "telegram", botToken: "777002:browser-test-token", secretToken: SECRET },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
  bot.stop();
}, 60_000);

it("shows the /start event, the bot's greeting, a photo and a voice note the browser can play", async () => {
  const user = newUser();
  bot.addFile("photo-1", "photos/p.jpg", new Uint8Array([0xff, 0xd8, 0xff, 0xe0]));
  bot.addFile("voice-1", "voice/v.oga", new TextEncoder().encode("OggS"));
  for (const content of [
    { text: "/start" },
    { text: "My parcel arrived broken" },
    { photo: [{ file_id: "photo-1", file_unique_id: "p", width: 10, height: 10 }], caption: "See the box" },
    { voice: { file_id: "voice-1", file_unique_id: "v", duration: 1, mime_type: "audio/ogg" } },
  ])
    expect((await postUpdate(s.url, inboxId, update(user, content), SECRET)).status).toBe(200);
  const items = await until(
    () => telegramItemsOf(s.rt.core.db, user.id),
    (l) => l.length >= 5,
  );

  const page = await (await browser.newContext()).newPage();
  await signIn(page, s.url, s.admin.email, s.admin.password);
  await page.goto(`${s.url}/app/#/inbox/all/${items[0]!.conversationId}`);
  const event = page.locator("[data-event='telegram.start']");
  await event.waitFor();
  expect(await event.innerText()).toStartWith("Ada Lovelace started the Telegram bot");
  const greeting = page.getByTestId("timeline-item").filter({ hasText: "one of our agents will answer you" });
  await greeting.waitFor();
  await page.getByTestId("timeline-item").filter({ hasText: "See the box" }).locator("img").waitFor();
  // Telegram records voice notes as OGG/Opus, stored as they came: Chromium plays them in the inbox.
  const voice = page.getByTestId("timeline-item").locator("audio");
  await voice.waitFor();
  expect(await voice.getAttribute("aria-label")).toMatch(/^voice-\d+\.ogg$/);
  await page.context().close();
}, 60_000);
