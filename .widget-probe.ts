import { chromium } from "playwright-core";
import { api, startTestServer } from "./test/server.ts";
const s = await startTestServer();
const token = await s.login(s.agent.email, s.agent.password);
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless","--no-sandbox","--disable-gpu"] });
for (const [name, viewport] of [["desktop", { width: 1100, height: 800 }], ["mobile", { width: 390, height: 780 }]] as const) {
  const page = await b.newPage({ viewport });
  page.on("console", (m) => console.log(name, "console", m.type(), m.text()));
  page.on("pageerror", (e) => console.log(name, "pageerror", e.message));
  await page.goto(`${s.url}/demo`);
  await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
  await page.screenshot({ path: `/tmp/${name}-closed.png` });
  await page.getByTestId("switchboard-bubble").click();
  await page.getByTestId("switchboard-input").fill("hello https://example.com/x?y=1. <b>bold</b>");
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"), page.keyboard.press("Enter")]);
  const { conversationId } = await res.json();
  await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token, body: { text: "Hi! How can I help you today? This is a longer reply to see wrapping." } });
  await page.getByText("longer reply").waitFor();
  // upload an image
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAAKklEQVR42u3NMQEAAAgDINc/9Mzg4QcFSDvfiIiIiIiIiIiIiIiIiIiIiMgFXo0EAW+s3qMAAAAASUVORK5CYII=", "base64");
  await page.locator("switchboard-widget input[type=file]").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: png });
  await page.locator("switchboard-widget img").waitFor();
  await page.waitForTimeout(300);
  console.log(name, "img natural", await page.locator("switchboard-widget img").evaluate((i: HTMLImageElement) => [i.naturalWidth, i.src]));
  await page.screenshot({ path: `/tmp/${name}-open.png` });
  await page.close();
}
await b.close(); await s.stop();
