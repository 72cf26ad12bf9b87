import { join } from "node:path";
import { randomToken } from "../../platform/crypto.ts";
import type { Target } from "./database.ts";
import { postJson } from "./visitors.ts";

/**
 * The server under test is the product itself (`bun apps/server/main.ts`) in a process of its own, as a
 * user runs it, with its demo workspace; the benchmark's process only plays the visitors and agents.
 */
export async function startServer(target: Target) {
  // BENCH_SERVER_FLAGS passes flags to the server's bun, e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof".
  const flags = process.env.BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? [];
  const proc = Bun.spawn(["bun", ...flags, "apps/server/main.ts"], {
    cwd: join(import.meta.dir, "../.."),
    env: {
      ...process.env,
      DATABASE_URL: "",
      ...target.env,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      SWITCHBOARD_DEMO: "1",
      SECRET_KEY: randomToken(36),
      // Every visitor shares 127.0.0.1: the benchmarks measure the product, not the per-IP throttle.
      WIDGET_IP_RATE: "1000000000",
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await readUntil(proc.stdout, /Agent API sign-in/, 60_000);
  const url = /running at (http:\/\/\S+)/.exec(out)?.[1]?.replace("localhost", "127.0.0.1");
  const inboxKey = /public key:\s+(\S+)/.exec(out)?.[1];
  if (!url || !inboxKey) {
    proc.kill();
    throw new Error(`server did not start: ${out}`);
  }
  const { token } = await postJson<{ token: string }>(
    `${url}/api/v1/auth/login`,
    { email: "admin@demo.test", password: "demo" },
    200,
  );
  return {
    url,
    inboxKey,
    agentToken: token,
    pid: proc.pid,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, ms: number) {
  const reader = stream.getReader();
  const deadline = Date.now() + ms;
  let out = "";
  while (!pattern.test(out) && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      Bun.sleep(Math.max(0, deadline - Date.now())).then(() => undefined),
    ]);
    if (!next || next.done) break;
    out += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return out;
}
