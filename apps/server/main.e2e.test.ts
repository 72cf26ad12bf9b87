import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "bun:test";
import { api } from "../../test/server.ts";
import { launchChromium } from "../../test/browser.ts";
import { readTwiml } from "../../channels/voice/twiml-read.ts";
import { twilioSignature } from "../../channels/voice/verify.ts";

const root = join(import.meta.dir, "../..");

/** The README's first command, as a new user runs it: embedded database, demo data, one process. */
function start(env: Record<string, string>) {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  return Bun.spawn(["bun", "run", "start"], {
    cwd: root,
    env: { ...inherited, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, ms: number) {
  const reader = stream.getReader();
  let out = "";
  const deadline = Date.now() + ms;
  while (!pattern.test(out) && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      Bun.sleep(deadline - Date.now()).then(() => ({ done: true, value: undefined })),
    ]);
    if (next.done || !next.value) break;
    out += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return out;
}

it("starts on embedded PGlite with demo data, the demo page and a working sign-in", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-start-"));
  const proc = start({ DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "warn" });
  try {
    const out = await readUntil(proc.stdout, /Agent API sign-in/, 60_000);
    const url = /running at (http:\/\/\S+)/.exec(out)![1]!.replace("localhost", "127.0.0.1");
    const key = /public key:\s+(\S+)/.exec(out)![1]!;
    expect((await api(`${url}/healthz`)).body).toEqual({ ok: true });
    const page = await (await fetch(`${url}/demo`)).text();
    expect(page).toContain(`data-inbox="${key}"`);
    const login = await api(`${url}/api/v1/auth/login`, { body: { email: "admin@demo.test", password: "demo" } });
    expect(login.status).toBe(200);
    const me = await api(`${url}/api/v1/me`, { token: login.body.token });
    expect(me.body).toMatchObject({ role: "admin" });
    const waiting = await api(`${url}/api/v1/conversations?status=open`, { token: login.body.token });
    expect(waiting.body.items.map((c: any) => c.contact.name).sort()).toEqual(["Emma Clark", "王芳"]);
    // Five weeks of past chats, so the report screens have figures on first sign-in (apps/demo/seed-history.ts).
    const to = new Date();
    const from = new Date(to.getTime() - 35 * 86_400_000);
    const report = await api(
      `${url}/api/v1/reports/summary?from=${from.toISOString()}&to=${to.toISOString()}&groupBy=agent`,
      { token: login.body.token },
    );
    const byAgent = new Map(report.body.rows.map((r: any) => [r.name, r]));
    for (const name of ["李娜", "Tom Baker"]) expect((byAgent.get(name) as any)?.answered).toBeGreaterThan(300);
    expect(report.body.rows.reduce((n: number, r: any) => n + r.abandoned, 0)).toBeGreaterThan(0);
    const session = await api(`${url}/widget/v1/sessions`, { body: { inboxKey: key } });
    expect(session.status).toBe(200);

    // The voice contract: the demo number answers a webhook signed with the demo token, refuses others.
    const hook = `${url}/webhooks/twilio/voice`;
    const params = {
      CallSid: `CA${"0".repeat(31)}1`,
      From: "+8613800000099",
      To: "+15005550006",
      CallStatus: "ringing",
    };
    const post = (signature?: string) =>
      fetch(hook, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(signature ? { "x-twilio-signature": signature } : {}),
        },
        body: new URLSearchParams(params).toString(),
      });
    expect((await post()).status).toBe(403);
    expect((await post(twilioSignature("wrong-token", hook, params))).status).toBe(403);
    const answered = await post(twilioSignature("demo-twilio-token", hook, params));
    expect(answered.status).toBe(200);
    expect(readTwiml(await answered.text())[0]!.verb).toBe("Gather");

    // The built-in simulator plays a whole call into the inbox without Twilio.
    const simulated = await api(`${url}/simulator/calls`, { body: { say: "我想退款", callerName: "Demo caller" } });
    expect(simulated.status).toBe(201);
    expect(simulated.body.heard.join(" ")).toContain("下一位就是您");
    const calls = await api(`${url}/api/v1/calls/live`, { token: login.body.token });
    expect(calls.body.items.some((c: any) => c.status === "queued" && c.from === "+8613800138000")).toBe(true);

    // The demo page's button does the same in a browser.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${url}/demo`);
      await page.getByRole("button", { name: "Simulate a phone call" }).click();
      await page.locator("#call-log", { hasText: "caller hears: 感谢致电" }).waitFor({ timeout: 15_000 });
    } finally {
      await browser.close();
    }
  } finally {
    proc.kill();
    await proc.exited;
  }
}, 120_000);

it("refuses to start on a bad setting and names the variable", async () => {
  const proc = start({ PORT: "eighty", DATA_DIR: mkdtempSync(join(tmpdir(), "switchboard-bad-")) });
  const code = await proc.exited;
  const stderr = await new Response(proc.stderr).text();
  expect(code).toBe(2);
  expect(stderr).toContain("PORT");
});

it("refuses to start on PostgreSQL without SECRET_KEY, naming the variable", async () => {
  const { SECRET_KEY: _unset, ...env } = process.env;
  const proc = Bun.spawn(["bun", "run", "start"], {
    cwd: root,
    env: { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres", PORT: "0", LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(await proc.exited).toBe(2);
  expect(await new Response(proc.stderr).text()).toContain("SECRET_KEY: must be set on PostgreSQL");
});
