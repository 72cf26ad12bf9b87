import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChannelAdapter } from "../conversations/channel.ts";
import { createInbox, readCredentials } from "../conversations/inbox.ts";
import { verifyRoutes } from "../conversations/inbox-route.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { createAgent } from "../routing/agent.ts";
import { createRuntime, type Runtime } from "../apps/server/runtime.ts";
import { createApp, serve } from "../apps/server/app.ts";
import { startEmailListeners } from "../apps/server/listeners.ts";
import { parseConfig } from "../platform/config.ts";
import type { InboxSettings, Role } from "../db/schema/index.ts";
import { testDatabase } from "./db.ts";
import type { WechatyRunnerOptions } from "../apps/gateway/wechat/wechaty-runner.ts";

export const TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789";

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/**
 * A real server on a random loopback port, on the shared test database, with its own workspace: an
 * admin, an agent, and a web chat inbox. Everything a test touches goes over real HTTP/WebSocket.
 */
export async function startTestServer(
  options: {
    adapters?: Partial<Record<string, ChannelAdapter>>;
    widgetLimits?: { burst?: number; perSecond?: number };
    widgetIpRate?: number;
    /** SWITCHBOARD_DEMO: on by default, as for a new user. */
    demo?: boolean;
    inboxSettings?: InboxSettings;
    /** Email listeners: SMTP-in on a free loopback port, IMAP import of the email inboxes. */
    email?: { smtp?: boolean; imap?: boolean; imapRescanMs?: number };
    /**
     * Runs the workspace's Wechaty bots with these options (a wechaty-puppet-mock factory); without it
     * no bot starts, since every test server shares one database.
     */
    wechaty?: Partial<WechatyRunnerOptions>;
    /** More environment variables (TRUST_PROXY, limits…); they win over the test defaults. */
    env?: Record<string, string>;
  } = {},
) {
  const { database } = await testDatabase();
  const config = parseConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), "switchboard-")),
    SECRET_KEY: TEST_SECRET,
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    WIDGET_IP_RATE: String(options.widgetIpRate ?? 100_000),
    SWITCHBOARD_DEMO: options.demo === false ? "0" : "1",
    OUTBOUND_ALLOW_HOSTS: "127.0.0.1,localhost",
    LOGIN_IP_PER_MINUTE: "100000",
    ...options.env,
  });
  const rt: Runtime = await createRuntime(config, {
    database,
    adapters: options.adapters,
    outbox: { baseDelayMs: 20, maxDelayMs: 200, pollMs: 50 },
    webhooks: { backoffMs: [20, 50, 100], pollMs: 50 },
    wechaty: options.wechaty,
  });
  const ws = await createWorkspace(rt.core.db, `Test ${crypto.randomUUID().slice(0, 8)}`);
  const tag = crypto.randomUUID().slice(0, 8);
  const password = "correct horse battery staple";
  const admin = await createAgent(rt.core.db, {
    workspaceId: ws.id,
    email: `admin-${tag}@example.test`,
    name: "Admin",
    role: "admin",
    password,
  });
  const agentUser = await createAgent(rt.core.db, {
    workspaceId: ws.id,
    email: `agent-${tag}@example.test`,
    name: "Agent Ann",
    role: "agent",
    password,
  });
  const inbox = await createInbox(rt.core.db, rt.keyring, {
    workspaceId: ws.id,
    channel: "webchat",
    name: "Site chat",
    settings: options.inboxSettings,
  });
  const secret = readCredentials(rt.keyring, inbox).hmacSecret as string;
  const server = serve(
    rt,
    createApp(rt, { widgetLimits: options.widgetLimits ?? { burst: 10_000, perSecond: 10_000 } }),
    0,
    "127.0.0.1",
  );
  rt.outbox.start();
  rt.router.start();
  if (options.wechaty) {
    // Only this server's workspace, unless the test names the workspaces itself (two nodes, one workspace).
    rt.wechaty.options.workspaceIds ??= [ws.id];
    rt.wechaty.start();
  }
  const url = `http://127.0.0.1:${server.port}`;
  const email = options.email
    ? await startEmailListeners(rt, {
        smtp: options.email.smtp ? { port: 0, host: "127.0.0.1" } : undefined,
        imap: options.email.imap,
        imapRescanMs: options.email.imapRescanMs,
      })
    : undefined;

  async function login(email: string, pw: string) {
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: pw }),
    });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  }

  return {
    url,
    rt,
    workspaceId: ws.id,
    inbox: { id: inbox.id, publicKey: inbox.publicKey!, secret },
    admin: { id: admin.id, email: admin.email, password },
    agent: { id: agentUser.id, email: agentUser.email, password },
    login,
    /** The email listeners when asked for: SMTP-in's port, the IMAP importers. */
    email,
    /**
     * Proves the routing keys (email address and aliases) of an inbox made through the admin API, as its
     * verification code would: SMTP-in delivers mail only for proven addresses.
     */
    proveRoutes: (inboxId: string) => verifyRoutes(rt.core.db, inboxId),
    /** A new user of the workspace with `role`, signed in: their token. */
    async signInAs(role: Role, name: string = role) {
      const user = await createAgent(rt.core.db, {
        workspaceId: ws.id,
        email: `${role}-${crypto.randomUUID()}@example.test`,
        name,
        role,
        password,
      });
      return login(user.email, password);
    },
    async stop() {
      server.stop(true);
      await email?.stop();
      await rt.close();
    },
  };
}

/** JSON over HTTP with an optional bearer token; returns status and parsed body. */
export async function api<T = any>(
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, body: json as T, headers: res.headers };
}

/** An agent's upload (`POST /api/v1/attachments`), for a reply to carry; returns the attachment's id. */
export async function uploadAttachment(
  baseUrl: string,
  token: string,
  file: { bytes: Uint8Array; type: string; name: string },
) {
  const form = new FormData();
  form.append("file", new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type }), file.name);
  const res = await fetch(`${baseUrl}/api/v1/attachments`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  if (res.status !== 201) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** A WebSocket that collects JSON frames and can wait for one matching a predicate. */
export async function openSocket(url: string) {
  const frames: any[] = [];
  const waiters: { match: (f: any) => boolean; resolve: (f: any) => void }[] = [];
  const ws = new WebSocket(url);
  ws.onmessage = (e) => {
    if (typeof e.data !== "string" || e.data === "pong") return;
    const f = JSON.parse(e.data);
    frames.push(f);
    for (const w of [...waiters])
      if (w.match(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`socket failed: ${url} ${(e as ErrorEvent).message ?? ""}`));
  });
  return {
    ws,
    frames,
    waitFor(match: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
      const found = frames.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for frame; got ${JSON.stringify(frames.slice(-5))}`)),
          timeoutMs,
        );
        waiters.push({ match, resolve: (f) => (clearTimeout(t), resolve(f)) });
      });
    },
    close() {
      ws.close();
    },
  };
}

export function wsUrl(httpUrl: string) {
  return httpUrl.replace(/^http/, "ws");
}
