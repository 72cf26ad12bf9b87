import { and, asc, eq, sql } from "drizzle-orm";
import { ingestInbound } from "../../conversations/ingest.ts";
import { createInbox } from "../../conversations/inbox.ts";
import { createWorkspace } from "../../conversations/workspace.ts";
import { inboxes, inboxRoutes, ivrFlows, workspaces } from "../../db/schema/index.ts";
import { exampleFlow } from "../../channels/voice/example-flow.ts";
import { fakeSid } from "./twilio-stand-in.ts";
import { STAND_IN_REST_PATH } from "./twilio-stand-in-routes.ts";
import { createAgent, createTeam, setAgentSkill } from "../../routing/agent.ts";
import { createQueue, replaceEntryRules } from "../../routing/queue.ts";
import { createArticle } from "../../knowledge/article.ts";
import { SAMPLE_ARTICLES } from "../../knowledge/fixtures.ts";
import type { Runtime } from "../server/runtime.ts";

/** The demo voice inbox's number (Twilio's test number for "a valid number"). */
export const DEMO_PHONE_NUMBER = "+15005550006";
/** Mail sent to this address on SMTP_IN_PORT becomes a conversation in the demo (a public contract). */
export const DEMO_EMAIL_ADDRESS = "support@demo.test";

/**
 * Demo data for a first start on an empty database: a workspace, agents with skills, teams and a web
 * chat inbox. Returns the widget key to print; does nothing if any workspace exists.
 */
export async function seedDemo(
  rt: Runtime,
): Promise<{ created: boolean; widgetKey: string | null; helpSlug: string | null }> {
  const db = rt.core.db;
  const [existing] = await db
    .select({ id: workspaces.id, slug: workspaces.slug })
    .from(workspaces)
    .orderBy(asc(workspaces.createdAt))
    .limit(1);
  if (existing) {
    await ensureDemoEmailInbox(rt, existing.id);
    await ensureDemoWechatInbox(rt, existing.id);
    const [inbox] = await db
      .select({ key: inboxes.publicKey })
      .from(inboxes)
      .where(eq(inboxes.channel, "webchat"))
      .orderBy(asc(inboxes.createdAt))
      .limit(1);
    return { created: false, widgetKey: inbox?.key ?? null, helpSlug: existing.slug };
  }
  const ws = await createWorkspace(db, "Demo");
  const w = ws.id;
  await createAgent(db, {
    workspaceId: w,
    email: "admin@demo.test",
    name: "Ada Admin",
    role: "admin",
    password: "demo",
  });
  await createAgent(db, {
    workspaceId: w,
    email: "supervisor@demo.test",
    name: "Sam Supervisor",
    role: "supervisor",
    password: "demo",
  });
  const editor = await createAgent(db, {
    workspaceId: w,
    email: "editor@demo.test",
    name: "Kim Editor",
    role: "knowledge_editor",
    password: "demo",
  });
  const lina = await createAgent(db, {
    workspaceId: w,
    email: "lina@demo.test",
    name: "李娜",
    role: "agent",
    password: "demo",
    locale: "zh-CN",
  });
  const tom = await createAgent(db, {
    workspaceId: w,
    email: "tom@demo.test",
    name: "Tom Baker",
    role: "agent",
    password: "demo",
  });
  await setAgentSkill(db, w, lina.id, "billing", 4);
  await setAgentSkill(db, w, lina.id, "chinese", 5);
  await setAgentSkill(db, w, tom.id, "technical", 3);
  await setAgentSkill(db, w, tom.id, "english", 5);
  await createTeam(db, w, "Billing", [lina.id]);
  await createTeam(db, w, "Technical support", [tom.id]);
  const inbox = await createInbox(db, rt.keyring, {
    workspaceId: w,
    channel: "webchat",
    name: "Website chat",
    settings: { greeting: { en: "Hi! How can we help?", "zh-CN": "您好！有什么可以帮您？" }, preChatForm: false },
  });
  await ensureDemoEmailInbox(rt, w);
  await ensureDemoWechatInbox(rt, w);
  // Routing: refund questions (either language) to agents who know billing, the rest to everyone.
  const vip = [{ attribute: "vip", equals: true, priority: 10 }];
  const refunds = await createQueue(db, w, {
    name: "退款 Refunds",
    requiredSkills: [{ skill: "billing", minLevel: 2 }],
    priorityRules: vip,
    serviceLevelSeconds: 20,
  });
  const general = await createQueue(db, w, { name: "General", priorityRules: vip, serviceLevelSeconds: 30 });
  await replaceEntryRules(db, w, [
    { queueId: refunds.id, conditions: { keywords: ["退款", "refund"] } },
    { queueId: general.id, conditions: {} },
  ]);

  // A phone line without a Twilio account: its webhooks are signed with TWILIO_AUTH_TOKEN (demo
  // default "demo-twilio-token") and its REST requests go to the built-in simulator.
  const phone = await createInbox(db, rt.keyring, {
    workspaceId: w,
    channel: "voice",
    name: "Hotline +1 500-555-0006",
    settings: {
      phoneNumber: DEMO_PHONE_NUMBER,
      apiBaseUrl: STAND_IN_REST_PATH,
      recording: "on_demand",
      recordingRetentionDays: 90,
      language: "zh-CN",
    },
    credentials: { accountSid: fakeSid("AC") },
  });
  await db
    .insert(ivrFlows)
    .values({ inboxId: phone.id, workspaceId: w, flow: exampleFlow({ refunds: refunds.id, general: general.id }) });

  // Two customers already waiting, so the inbox is not empty on first sign-in.
  const samples = [
    { visitor: "demo-wang", name: "王芳", text: "你好，我的订单 #10086 三天了还没发货，能帮我查一下吗？" },
    { visitor: "demo-emma", name: "Emma Clark", text: "Hi! Can I change the delivery address of my order?" },
  ];
  for (const [n, s] of samples.entries()) {
    await ingestInbound(rt.core, w, {
      channel: "webchat",
      channelAccountId: inbox.id,
      externalId: `demo-${n}`,
      from: { kind: "visitor", value: s.visitor, displayName: s.name },
      text: s.text,
    });
  }
  // The knowledge base: refund, order status and address articles in English and Chinese, each
  // pair linked as translations, so the help center, suggestions and the bot work at once.
  const author = { userId: editor.id, workspaceId: w, role: editor.role };
  const byTopic = new Map<string, string>();
  for (const a of SAMPLE_ARTICLES) {
    const topic = a.key.replace(/-(en|zh)$/, "");
    const saved = await createArticle(
      db,
      author,
      { ...a, status: "published", translationOf: byTopic.get(topic) },
      rt.knowledge.saveOptions,
    );
    byTopic.set(topic, byTopic.get(topic) ?? saved.id);
  }
  return { created: true, widgetKey: inbox.publicKey, helpSlug: ws.slug };
}

/**
 * The fixed secrets of the demo Official Account inbox (a public contract): pushes signed and encrypted
 * with them can be sent with curl, as docs/channels/wechat.md shows.
 */
export const DEMO_WECHAT = {
  token: "demo-wechat-token",
  appId: "wx0123456789abcdef",
  appSecret: "demo-wechat-secret",
  encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
} as const;

/**
 * The demo's Official Account inbox, also added to a demo database seeded before it existed. Found by
 * its AppID: the workspace may hold WeChat inboxes of its own that are not the demo's.
 */
async function ensureDemoWechatInbox(rt: Runtime, workspaceId: string) {
  const [found] = await rt.core.db
    .select({ id: inboxes.id })
    .from(inboxes)
    .where(
      and(
        eq(inboxes.workspaceId, workspaceId),
        eq(inboxes.channel, "wechat"),
        sql`${inboxes.settings}->>'appId' = ${DEMO_WECHAT.appId}`,
      ),
    )
    .limit(1);
  if (found) return;
  const { token, appId, appSecret, encodingAesKey } = DEMO_WECHAT;
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "wechat",
    name: "WeChat 公众号",
    settings: { kind: "official", appId, mode: "compatible" },
    credentials: { token, appSecret, encodingAesKey },
  });
}

/** The demo's email inbox (support@demo.test), also added to a demo database seeded before it existed. */
async function ensureDemoEmailInbox(rt: Runtime, workspaceId: string) {
  const [found] = await rt.core.db
    .select({ id: inboxes.id })
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.channel, "email")))
    .limit(1);
  // The address is a routing key: if another inbox holds it, that one keeps it.
  const [held] = await rt.core.db
    .select({ key: inboxRoutes.key })
    .from(inboxRoutes)
    .where(and(eq(inboxRoutes.kind, "email"), eq(inboxRoutes.key, DEMO_EMAIL_ADDRESS)));
  if (found || held) return;
  // No outgoing server: replies fail with that reason until one is set in the admin screen. Seeded,
  // so its address is live at once (createInbox trusts seeds); addresses admins add must be proven.
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "email",
    name: "Support email",
    settings: {
      address: DEMO_EMAIL_ADDRESS,
      displayName: "Demo Support",
      signature: "Demo Support · support@demo.test",
    },
  });
}
