import { afterAll, beforeAll, beforeEach, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { createWechatAdapter } from "../channels/wechat/index.ts";
import { connect, type Database } from "../db/connect.ts";
import { inboxStates } from "../db/schema/index.ts";
import { Keyring } from "../platform/crypto.ts";
import { TEST_SECRET } from "../test/server.ts";
import { testDatabase } from "../test/db.ts";
import { createAccessTokenStore } from "./access-token-store.ts";
import type { OutboundMessage } from "./channel.ts";
import { createInbox } from "./inbox.ts";
import { createWorkspace } from "./workspace.ts";

const APP_ID = "wx00112233445566bb";
const APP_SECRET = "node-shared-secret";
const OPEN_ID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

type Recorded = { path: string; body: any; token?: string };

/**
 * WeChat's Official Account API for two nodes: token endpoints that answer slowly (so concurrent
 * nodes overlap) and issue `token-1`, `token-2`…; custom/send answered from a script, then ok.
 * `stable_token` gives the current token until it expires, a new one only when forced.
 */
const wechat = {
  requests: [] as Recorded[],
  sendScript: [] as Record<string, unknown>[],
  issued: 0,
  current: undefined as string | undefined,
  tokenRequests() {
    return this.requests.filter((r) => r.path !== "/cgi-bin/message/custom/send");
  },
  sends() {
    return this.requests.filter((r) => r.path === "/cgi-bin/message/custom/send");
  },
};
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const body = req.method === "POST" ? await req.json() : undefined;
    wechat.requests.push({ path: url.pathname, body, token: url.searchParams.get("access_token") ?? undefined });
    if (url.pathname === "/cgi-bin/stable_token" || url.pathname === "/cgi-bin/token") {
      await Bun.sleep(100);
      if (url.pathname === "/cgi-bin/token" || !wechat.current || body.force_refresh)
        wechat.current = `token-${++wechat.issued}`;
      return Response.json({ access_token: wechat.current, expires_in: 7200 });
    }
    return Response.json(wechat.sendScript.shift() ?? { errcode: 0, errmsg: "ok" });
  },
});
const apiBase = `http://127.0.0.1:${server.port}`;

const keyring = new Keyring(TEST_SECRET);
let nodeA: Database;
let nodeB: Database;
let workspaceId: string;

beforeAll(async () => {
  const { database, url } = await testDatabase();
  nodeA = database;
  // The demo (seeded by other files on this database) adds its WeChat inbox to the first workspace only if
  // that one has none: ours must not be first.
  await createWorkspace(nodeA.db, `Ahead ${crypto.randomUUID().slice(0, 8)}`);
  // On PostgreSQL the second node has its own connections; PGlite has one process, so it shares them.
  nodeB = url ? await connect({ databaseUrl: url, poolSize: 4 }) : database;
  workspaceId = (await createWorkspace(nodeA.db, `Tokens ${crypto.randomUUID().slice(0, 8)}`)).id;
});
afterAll(async () => {
  if (nodeB !== nodeA) await nodeB.close();
  server.stop(true);
});
beforeEach(() => {
  wechat.requests = [];
  wechat.sendScript = [];
  wechat.current = undefined;
  wechat.issued = 0;
});

async function officialInbox(tokenApi: "stable_token" | "token" = "stable_token") {
  const settings = { kind: "official", appId: APP_ID, mode: "compatible", tokenApi };
  const credentials = { token: "hook-token", appSecret: APP_SECRET };
  const row = await createInbox(nodeA.db, keyring, {
    workspaceId,
    channel: "wechat",
    name: "公众号",
    settings,
    credentials,
  });
  return { id: row.id, channel: "wechat" as const, settings, credentials };
}

const reply = (inbox: OutboundMessage["inbox"], key: string): OutboundMessage => ({
  idempotencyKey: key,
  inbox,
  conversationId: "conversation-1",
  to: [{ kind: "wechat", value: OPEN_ID }],
  text: "您好",
  html: null,
  attachments: [],
});

/** One node's adapter: its own token cache, the store on its own connections. */
const adapterOf = (node: Database) =>
  createWechatAdapter({ apiBase, tokenStore: createAccessTokenStore(node, keyring) });

describe("access tokens shared by the nodes (inbox_states)", () => {
  it.each(["stable_token", "token"] as const)(
    "are fetched once for concurrent sends from two nodes (%s)",
    async (tokenApi) => {
      const inbox = await officialInbox(tokenApi);
      const [a, b] = [adapterOf(nodeA), adapterOf(nodeB)];
      await Promise.all([
        a.send(reply(inbox, "a1")),
        b.send(reply(inbox, "b1")),
        a.send(reply(inbox, "a2")),
        b.send(reply(inbox, "b2")),
      ]);
      expect(wechat.tokenRequests()).toHaveLength(1);
      expect(wechat.sends().map((r) => r.token)).toEqual(Array(4).fill("token-1"));
    },
  );

  it("are stored sealed, and a node that starts later uses the stored token without fetching", async () => {
    const inbox = await officialInbox();
    await adapterOf(nodeA).send(reply(inbox, "a1"));
    const [row] = await nodeA.db.select().from(inboxStates).where(eq(inboxStates.inboxId, inbox.id));
    expect(row?.workspaceId).toBe(workspaceId);
    expect(row?.accessToken).toStartWith("v2.");
    expect(row?.accessToken).not.toContain("token-1");
    expect(keyring.open(row!.accessToken!)).toBe("token-1");

    await adapterOf(nodeB).send(reply(inbox, "b1"));
    expect(wechat.tokenRequests()).toHaveLength(1);
    expect(wechat.sends().map((r) => r.token)).toEqual(["token-1", "token-1"]);
  });

  it("refused (40001) on both nodes: one forced refresh, then each send goes with the new token", async () => {
    const inbox = await officialInbox();
    const [a, b] = [adapterOf(nodeA), adapterOf(nodeB)];
    await Promise.all([a.send(reply(inbox, "a1")), b.send(reply(inbox, "b1"))]);
    const refused = { errcode: 40001, errmsg: "invalid credential, access_token is invalid or not latest" };
    wechat.sendScript = [refused, refused];
    const results = await Promise.all([a.send(reply(inbox, "a2")), b.send(reply(inbox, "b2"))]);

    expect(results.map((r) => r.status)).toEqual(["sent", "sent"]);
    expect(wechat.tokenRequests().map((r) => r.body.force_refresh)).toEqual([false, true]);
    expect(wechat.sends().map((r) => r.token)).toEqual([
      "token-1",
      "token-1",
      "token-1",
      "token-1",
      "token-2",
      "token-2",
    ]);
  });

  it("refused on one node: the other finds the refreshed token in the store when its own is refused", async () => {
    const inbox = await officialInbox("token");
    const [a, b] = [adapterOf(nodeA), adapterOf(nodeB)];
    await a.send(reply(inbox, "a1"));
    await b.send(reply(inbox, "b1"));
    wechat.sendScript = [{ errcode: 42001, errmsg: "access_token expired" }];
    await a.send(reply(inbox, "a2")); // refused, refreshed (token-2), sent
    wechat.sendScript = [{ errcode: 40001, errmsg: "invalid credential" }];
    await b.send(reply(inbox, "b2")); // its token-1 refused: token-2 from the store, no fetch

    expect(wechat.tokenRequests()).toHaveLength(2);
    expect(wechat.sends().map((r) => r.token)).toEqual([
      "token-1",
      "token-1",
      "token-1",
      "token-2",
      "token-1",
      "token-2",
    ]);
  });
});
