import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { onPostgres, testDatabase } from "../../test/db.ts";
import { api, openSocket, startTestServer, TEST_SECRET, wsUrl, type TestServer } from "../../test/server.ts";

/**
 * Two nodes on one PostgreSQL: this test process and a second `bun apps/server/main.ts`. Only meaningful on
 * Postgres (PGlite is one process by design), so it runs in the Postgres pass of CI.
 */
describe.if(onPostgres)("two nodes on one PostgreSQL", () => {
  let one: TestServer;
  let two: Subprocess<"ignore", "pipe", "pipe">;
  let twoUrl: string;

  beforeAll(async () => {
    one = await startTestServer();
    const { url } = await testDatabase();
    two = Bun.spawn(["bun", "apps/server/main.ts"], {
      cwd: `${import.meta.dir}/../..`,
      env: {
        ...process.env,
        DATABASE_URL: url!,
        SECRET_KEY: TEST_SECRET,
        PORT: "0",
        HOST: "127.0.0.1",
        SWITCHBOARD_DEMO: "0",
        LOG_LEVEL: "warn",
        WIDGET_IP_RATE: "100000",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    // The node prints its URL once it serves; read until then.
    const reader = two.stdout.getReader();
    let out = "";
    const deadline = Date.now() + 20_000;
    while (!/running at (http:\/\/\S+)/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const m = /running at (http:\/\/\S+)/.exec(out);
    if (!m) throw new Error(`second node did not start: ${out} ${await new Response(two.stderr).text()}`);
    twoUrl = m[1]!.replace("localhost", "127.0.0.1");
    expect((await api(`${twoUrl}/healthz`)).body).toEqual({ ok: true });
  });

  afterAll(async () => {
    if (two?.exitCode !== null)
      console.error("second node exited:", two?.exitCode, await new Response(two!.stderr).text());
    two?.kill();
    await two?.exited;
    await one?.stop();
  });

  it("pushes an event committed on one node to an agent connected to the other (LISTEN/NOTIFY)", async () => {
    const token = await one.login(one.admin.email, one.admin.password);
    const socket = await openSocket(`${wsUrl(twoUrl)}/api/v1/realtime?token=${token}`);
    await socket.waitFor((f) => f.type === "hello");
    const v = await api(`${one.url}/widget/v1/sessions`, { body: { inboxKey: one.inbox.publicKey } });
    await api(`${one.url}/widget/v1/messages`, { token: v.body.visitorToken, body: { text: "via node one" } });
    const frame = await socket.waitFor((f) => f.type === "item.created" && f.item.text === "via node one");
    expect(frame.seq).toBeGreaterThan(0);
    socket.close();
  });

  it("closes a socket on the other node when its session signs out", async () => {
    const token = await one.login(one.agent.email, one.agent.password);
    const socket = await openSocket(`${wsUrl(twoUrl)}/api/v1/realtime?token=${token}`);
    await socket.waitFor((f) => f.type === "hello");
    const closed = new Promise<number>((resolve) => socket.ws.addEventListener("close", (e) => resolve(e.code)));
    expect((await api(`${one.url}/api/v1/auth/logout`, { token, body: {} })).status).toBe(200);
    expect(await closed).toBe(4401);
  });

  it("loses nothing for a reader that keeps dropping and resuming while many senders write on both nodes", async () => {
    const token = await one.login(one.admin.email, one.admin.password);
    const visitors = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const base = i % 2 ? one.url : twoUrl;
        const r = await api(`${base}/widget/v1/sessions`, { body: { inboxKey: one.inbox.publicKey } });
        return { base, token: r.body.visitorToken as string };
      }),
    );
    // The reader's starting point is taken before anyone writes, so every message is after it.
    const hello = await openSocket(`${wsUrl(twoUrl)}/api/v1/realtime?token=${token}`);
    let last: number = (await hello.waitFor((f) => f.type === "hello")).seq;
    hello.close();
    const PER_SENDER = 15;
    const expected = new Set<string>();
    const senders = visitors.map(async (v, i) => {
      for (let n = 0; n < PER_SENDER; n++) {
        const text = `s${i}-${n}`;
        expected.add(text);
        const r = await api(`${v.base}/widget/v1/messages`, { token: v.token, body: { text } });
        expect(r.status).toBe(201);
      }
    });
    // The reader reconnects every few frames to alternating nodes, resuming after the last seq seen.
    const received: { seq: number; text?: string }[] = [];
    const reader = (async () => {
      for (let round = 0; round < 200; round++) {
        const node = round % 2 ? one.url : twoUrl;
        const s = await openSocket(`${wsUrl(node)}/api/v1/realtime?token=${token}&after=${last}`);
        await Bun.sleep(15 + (round % 3) * 10);
        s.close();
        for (const f of s.frames) {
          if (f.type === "hello") continue;
          received.push({ seq: f.seq, text: f.item?.direction === "in" ? f.item.text : undefined });
          last = f.seq;
        }
        const got = new Set(received.map((r) => r.text).filter(Boolean));
        if ([...expected].every((t) => got.has(t)) && expected.size === visitors.length * PER_SENDER) break;
      }
    })();
    await Promise.all(senders);
    await reader;
    const seqs = received.map((r) => r.seq);
    expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
    const texts = received.map((r) => r.text).filter(Boolean);
    expect(texts.length).toBe(expected.size);
    expect(new Set(texts)).toEqual(expected);
  }, 60_000);
});
