import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's chromium with the flags these machines need; tests never download a browser. */
export function launchChromium(options: { fakeMedia?: boolean } = {}): Promise<Browser> {
  // fakeMedia: a generated microphone (a beep) granted without a prompt, for browser-call tests.
  const media = options.fakeMedia
    ? [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
      ]
    : [];
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...media,
    ],
  });
}

/** Signs in through the inbox's own form and waits for the conversation list. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string) {
  await page.goto(`${baseUrl}/app/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("sign-out").waitFor();
}

/** A customer on the demo page with the chat widget open, writing as a person would. */
export async function openWidget(
  browser: Browser,
  baseUrl: string,
  publicKey: string,
  options: { initScript?: string } = {},
) {
  const context = await browser.newContext();
  if (options.initScript) await context.addInitScript(options.initScript);
  const page = await context.newPage();
  await page.goto(`${baseUrl}/demo?key=${publicKey}`);
  await page.waitForSelector("switchboard-widget[data-state=ready]", { state: "attached" });
  await page.getByTestId("switchboard-bubble").click();
  await page.getByTestId("switchboard-panel").waitFor({ state: "visible" });
  const input = page.getByTestId("switchboard-input");
  return {
    page,
    /** Sends and returns the conversation id the server answered with. */
    async send(text: string): Promise<string> {
      await input.fill(text);
      const [posted] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/widget/v1/messages") && r.request().method() === "POST"),
        input.press("Enter"),
      ]);
      return ((await posted.json()) as { conversationId: string }).conversationId;
    },
    messages: () => page.getByTestId("switchboard-message"),
    close: () => context.close(),
  };
}
