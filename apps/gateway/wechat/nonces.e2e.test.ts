import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { connect, type Database } from "../../../db/connect.ts";
import { webhookNonces } from "../../../db/schema/index.ts";
import { createWorkspace } from "../../../conversations/workspace.ts";
import { testDatabase } from "../../../test/db.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { pruneWebhookNonces, SeenNonces, WINDOW_SECONDS } from "./nonces.ts";

const TOKEN = "nonce-test-token";
const APP_ID = "wx00112233445566aa";

/** Two nodes behind one load balancer: two runtimes and servers on one database. */
let s1: TestServer;
let s2: TestServer;
let inboxId: string;
/** On PostgreSQL a second pool of its own (another node's connections); PGlite has one process. */
let otherNode: Database;

beforeAll(async () => {
  // The demo (seeded by other files on this database) adds its WeChat inbox to the first workspace only if
  // that one has none: ours must not be first.
  await createWorkspace((await testDatabase()).database.db, `Ahead ${crypto.randomUUID().slice(0, 8)}`);
  s1 = await startTestServer({ demo: false });
  s2 = await startTestServer({ demo: false });
  const { database, url } = await testDatabase();
  otherNode = url ? await connect({ databaseUrl: url, poolSize: 2 }) : database;
  const admin = await s1.login(s1.admin.email, s1.admin.password);
  const created = await api(`${s1.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "公众号 nonces",
      channel: "wechat",
      token: TOKEN,
      appId: APP_ID,
      appSecret: "s",
      encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
});
afterAll(async () => {
  if (otherNode !== s1.rt.database) await otherNode.close();
  await s1.stop();
  await s2.stop();
});

const sha1 = (parts: string[]) =>
  createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");

function push(server: TestServer, nonce: string, text: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const openId = `oNonce${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const xml =
    `<xml><ToUserName>gh_x</ToUserName><FromUserName>${openId}</FromUserName><CreateTime>${timestamp}</CreateTime>` +
    `<MsgType>text</MsgType><Content>${text}</Content><MsgId>${Date.now()}${nonce.slice(-4)}</MsgId></xml>`;
  const query = `signature=${sha1([TOKEN, timestamp, nonce])}&timestamp=${timestamp}&nonce=${nonce}`;
  return fetch(`${server.url}/webhooks/wechat/${inboxId}?${query}`, { method: "POST", body: xml });
}

const freshNonce = () => String(Math.floor(Math.random() * 1e12));

describe("webhook nonces shared by the nodes", () => {
  it("refuse a push replayed to another node inside the window", async () => {
    const nonce = freshNonce();
    expect((await push(s1, nonce, "first")).status).toBe(200);
    const replayed = await push(s2, nonce, "replayed elsewhere");
    expect(replayed.status).toBe(403);
    expect((await replayed.json()).error.field).toBe("nonce");
  });

  it("let exactly one of two nodes claim a nonce at once", async () => {
    const a = new SeenNonces(s1.rt.core.db);
    const b = new SeenNonces(otherNode.db);
    const now = Date.now();
    for (let n = 0; n < 5; n++) {
      const nonce = freshNonce();
      const won = await Promise.all([a.claim(inboxId, nonce, now), b.claim(inboxId, nonce, now)]);
      expect(won.filter(Boolean)).toHaveLength(1);
    }
  });

  it("are released when the push failed, so WeChat's retry with the same nonce is taken", async () => {
    const a = new SeenNonces(s1.rt.core.db);
    const b = new SeenNonces(otherNode.db);
    const nonce = freshNonce();
    const now = Date.now();
    expect(await a.claim(inboxId, nonce, now)).toBe(true);
    await a.release(inboxId, nonce);
    expect(await b.claim(inboxId, nonce, now)).toBe(true);
  });

  it("are taken again once the window has passed, and pruned by housekeeping", async () => {
    const nodes = new SeenNonces(s1.rt.core.db);
    const nonce = freshNonce();
    const then = Date.now() - 3 * WINDOW_SECONDS * 1000;
    expect(await nodes.claim(inboxId, nonce, then)).toBe(true);
    expect(await nodes.claim(inboxId, nonce, then + 1000)).toBe(false);
    expect(await nodes.claim(inboxId, nonce, Date.now())).toBe(true);

    const old = freshNonce();
    expect(await nodes.claim(inboxId, old, then)).toBe(true);
    await pruneWebhookNonces(s1.rt.core.db, new Date());
    const left = await s1.rt.core.db
      .select({ nonce: webhookNonces.nonce })
      .from(webhookNonces)
      .where(and(eq(webhookNonces.inboxId, inboxId)));
    expect(left.map((r) => r.nonce)).not.toContain(old);
    expect(left.map((r) => r.nonce)).toContain(nonce);
  });
});
