import { and, asc, eq, sql } from "drizzle-orm";
import { ingestInbound } from "../../conversations/ingest.ts";
import { createInbox } from "../../conversations/inbox.ts";
import { sha256Hex } from "../../platform/crypto.ts";
import { createWorkspace } from "../../conversations/workspace.ts";
import { inboxes, inboxRoutes, ivrFlows, workspaces, type Channel } from "../../db/schema/index.ts";
import { exampleFlow } from "../../channels/voice/example-flow.ts";
import { fakeSid } from "./twilio-stand-in.ts";
import { ensureDemoMessagingInboxes } from "./seed-messaging.ts";
import { seedDemoTickets } from "./seed-tickets.ts";
import { seedDemoCsat } from "./seed-csat.ts";
import { seedDemoAutomation } from "./seed-automation.ts";
import { seedDemoSla } from "./seed-sla.ts";
import { seedDemoHistory } from "./seed-history.ts";
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
    await ensureDemoTelegramInbox(rt, existing.id);
    await ensureDemoApiInbox(rt, existing.id);
    await ensureDemoSlackInbox(rt, existing.id);
    await ensureDemoMessagingInboxes(rt, existing.id);
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
  await ensureDemoTelegramInbox(rt, w);
  await ensureDemoApiInbox(rt, w);
  await ensureDemoSlackInbox(rt, w);
  await ensureDemoMessagingInboxes(rt, w);
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
  await seedDemoTickets(rt, w);
  await seedDemoCsat(rt, w);
  await seedDemoAutomation(rt, w);
  await seedDemoSla(rt, w);
  await seedDemoHistory(rt, w);
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
 * Whether the workspace holds the demo's inbox of a channel, told apart from the workspace's own by one
 * public setting (an AppID, a bot id, a callback URL).
 */
async function demoInboxExists(rt: Runtime, workspaceId: string, channel: Channel, key: string, value: string) {
  const [found] = await rt.core.db
    .select({ id: inboxes.id })
    .from(inboxes)
    .where(
      and(
        eq(inboxes.workspaceId, workspaceId),
        eq(inboxes.channel, channel),
        sql`${inboxes.settings}->>${key} = ${value}`,
      ),
    )
    .limit(1);
  return !!found;
}

/**
 * The demo's Official Account inbox, also added to a demo database seeded before it existed. Found by
 * its AppID: the workspace may hold WeChat inboxes of its own that are not the demo's.
 */
async function ensureDemoWechatInbox(rt: Runtime, workspaceId: string) {
  if (await demoInboxExists(rt, workspaceId, "wechat", "appId", DEMO_WECHAT.appId)) return;
  const { token, appId, appSecret, encodingAesKey } = DEMO_WECHAT;
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "wechat",
    name: "WeChat 公众号",
    settings: { kind: "official", appId, mode: "compatible" },
    credentials: { token, appSecret, encodingAesKey },
  });
}

/**
 * The fixed secrets of the demo Telegram inbox (a public contract): updates posted with the secret in
 * `X-Telegram-Bot-Api-Secret-Token` to `/webhooks/telegram/<inboxId>` can be sent with curl, as
 * docs/channels/telegram.md shows; replies go to TELEGRAM_API_BASE when it is set. No webhook is set
 * with Telegram: the token is not a real bot's.
 */
export const DEMO_TELEGRAM = {
  botToken: "123456:demo-telegram-token",
  secretToken: "demo-telegram-secret",
  botUsername: "switchboard_demo_bot",
} as const;

/**
 * The demo's Telegram inbox, also added to a demo database seeded before it existed. Found by its bot
 * id: the workspace may hold Telegram inboxes of its own. Its conversations route like every other
 * channel's (the General queue serves all channels).
 */
async function ensureDemoTelegramInbox(rt: Runtime, workspaceId: string) {
  const botId = DEMO_TELEGRAM.botToken.split(":")[0]!;
  if (await demoInboxExists(rt, workspaceId, "telegram", "botId", botId)) return;
  const { botToken, secretToken, botUsername } = DEMO_TELEGRAM;
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "telegram",
    name: "Telegram bot",
    settings: {
      botId,
      botUsername,
      greeting: {
        en: "Hi! This is the Switchboard demo. Ask us anything and an agent will answer here.",
        "zh-CN": "您好！这里是 Switchboard 演示。请留言，客服会在这里回复您。",
      },
    },
    credentials: { botToken, secretToken },
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

/**
 * The fixed secrets of the demo Slack inbox (a public contract): events signed with the signing secret
 * can be sent with curl, as docs/channels/slack.md shows; replies go to SLACK_API_BASE when it is set.
 */
export const DEMO_SLACK = {
  teamId: "T0DEMO0001",
  signingSecret: "demo-slack-signing-secret",
  botToken: "xoxb-demo-token",
  botUserId: "U0DEMOBOT",
} as const;

/** The demo's Slack inbox, also added to a demo database seeded before it existed (unless its team is taken). */
async function ensureDemoSlackInbox(rt: Runtime, workspaceId: string) {
  const [held] = await rt.core.db
    .select({ key: inboxRoutes.key })
    .from(inboxRoutes)
    .where(and(eq(inboxRoutes.kind, "slack_team"), eq(inboxRoutes.key, DEMO_SLACK.teamId.toLowerCase())));
  if (held) return;
  const { teamId, botUserId, botToken, signingSecret } = DEMO_SLACK;
  // The General queue's catch-all entry rule routes its conversations like every other channel's.
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "slack",
    name: "Slack shared channels",
    settings: { teamId, botUserId },
    credentials: { botToken, signingSecret },
  });
}

/**
 * The demo API-channel inbox's fixed token and secret: customer messages can be posted with curl
 * (docs/channels/api.md), and agents' replies are POSTed, signed with the secret, to a receiver the
 * trier runs on their own machine (a loopback address: the server calls it only when started with
 * OUTBOUND_ALLOW_HOSTS=localhost; otherwise the reply fails with that reason, shown in the inbox).
 */
export const DEMO_API_INBOX = {
  token: "sbi_demo-api-inbox-token",
  secret: "sbs_demo-api-inbox-secret",
  callbackUrl: "http://localhost:4001/switchboard",
} as const;

/** The demo's API inbox, found by its callback URL, also added to a demo database seeded before it existed. */
async function ensureDemoApiInbox(rt: Runtime, workspaceId: string) {
  if (await demoInboxExists(rt, workspaceId, "api", "callbackUrl", DEMO_API_INBOX.callbackUrl)) return;
  await createInbox(rt.core.db, rt.keyring, {
    workspaceId,
    channel: "api",
    name: "Our app (API)",
    settings: { callbackUrl: DEMO_API_INBOX.callbackUrl },
    credentials: { tokenHash: sha256Hex(DEMO_API_INBOX.token), secret: DEMO_API_INBOX.secret },
  });
}
