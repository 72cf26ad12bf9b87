import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { count, eq } from "drizzle-orm";
import { adapters as defaultAdapters } from "../../channels/index.ts";
import { createWechatAdapter, createWecomTokens, type WechatAdapter } from "../../channels/wechat/index.ts";
import { WECOM_API_BASE } from "../../channels/wechat/wecom-api.ts";
import { prepareWechat, readAttachment } from "../gateway/wechat/outbound.ts";
import { prepareApi } from "../gateway/api/outbound.ts";
import { createSlackAdapter } from "../../channels/slack/index.ts";
import { createTelegramAdapter } from "../../channels/telegram/index.ts";
import { SlackAlerts } from "../gateway/slack/alerts.ts";
import { prepareSlack } from "../gateway/slack/outbound.ts";
import { prepareTwilioMessaging } from "../gateway/twilio-messaging/outbound.ts";
import { AttachmentStore } from "../../conversations/attachment.ts";
import { InProcessBus, PostgresBus, type EventBus } from "../../conversations/bus.ts";
import type { ChannelAdapter } from "../../conversations/channel.ts";
import { createAccessTokenStore } from "../../conversations/access-token-store.ts";
import { resealCredentials } from "../../conversations/inbox.ts";
import { EventFeed } from "../../conversations/feed.ts";
import { InboundQueue } from "../../conversations/inbound-queue.ts";
import { OutboxWorker, type OutboxOptions } from "../../conversations/outbox.ts";
import type { Core } from "../../conversations/transaction.ts";
import { prepareEmail } from "../../mailboxes/outbound-headers.ts";
import { connect, type Database } from "../../db/connect.ts";
import { createKnowledgeBase, type KnowledgeBase } from "../../knowledge/base.ts";
import { startKnowledgeBot } from "../../routing/knowledge-bot.ts";
import { BrowserCallWatch } from "../../calls/browser-call-watch.ts";
import { Router } from "../../routing/router.ts";
import { DEFAULT_ROUTING } from "../../routing/work.ts";
import { outbox } from "../../db/schema/index.ts";
import { ConfigError, type Config } from "../../platform/config.ts";
import { Keyring, randomToken } from "../../platform/crypto.ts";
import { log } from "../../platform/log.ts";
import { Counter, Gauge, Histogram, Registry, watchEventLoopLag } from "../../platform/metrics.ts";
import { housekeep } from "./housekeeping.ts";
import {
  defaultHolder,
  WECHATY_LEASE_PREFIX,
  WechatyRunner,
  type WechatyRunnerOptions,
} from "../gateway/wechat/wechaty-runner.ts";
import { CallControl } from "../../calls/call-control.ts";
import { listenForWebhookEvents } from "../../integrations/webhook.ts";
import { WebhookWorker, type WebhookWorkerOptions } from "../../integrations/webhook-delivery.ts";
import { Automation } from "../../automation/listeners.ts";
import { CsatSurveys } from "../../csat/survey.ts";
import { reportScheduleSweep } from "../../reports/schedule-sweep.ts";
import type { PollLoop } from "../../platform/poll-loop.ts";
import { SlaTracking } from "../../sla/tracking.ts";
import { privacySweep } from "../../privacy/sweep.ts";
import { ReportFacts } from "../../reports/listeners.ts";
import { TicketListeners } from "../../tickets/listeners.ts";
import { QualityScoring } from "../../quality/listeners.ts";
import { transcriptionProvider } from "../../quality/transcription.ts";
import { openSealed } from "../../calls/recording.ts";

/** Everything one node runs, wired once: database, bus, realtime feed, outbox worker, metrics. */
export type Runtime = {
  config: Config;
  database: Database;
  core: Core;
  feed: EventFeed;
  /** Where gateways hand inbound messages: batched ingest (inbound-queue.ts). */
  inbound: InboundQueue;
  keyring: Keyring;
  outbox: OutboxWorker;
  router: Router;
  /** Phone calls: Twilio's webhooks and agents' call control. */
  calls: CallControl;
  files: AttachmentStore;
  /** The Official Account adapter: its API base and access tokens serve the gateway's media and profile calls. */
  wechat: WechatAdapter;
  /** Browser calls (chat → voice): timeouts, and ending the calls of a browser that went away. */
  browserCalls: BrowserCallWatch;
  knowledge: KnowledgeBase;
  /** The Wechaty bots this node runs (one node per bot, by lease); started by main.ts, like the outbox. */
  wechaty: WechatyRunner;
  /** Outgoing webhooks' deliveries (integrations/webhook-delivery.ts): started with the runtime. */
  webhooks: WebhookWorker;
  /** VIP and waiting-too-long conversations posted to Slack inboxes' alert channels. */
  slackAlerts: SlackAlerts;
  /** Automation rules: run on the bus's events and by the idle sweep (automation/). */
  automation: Automation;
  /** Satisfaction surveys: scheduled when a conversation is resolved, sent by a sweep. */
  csat: CsatSurveys;
  /** Reports mailed on a schedule: the sweep that writes each due one to the outbox (reports/schedule-sweep.ts). */
  reportSchedules: PollLoop;
  /** Erasures left unfinished and the retention period's deletions (privacy/sweep.ts). */
  privacy: PollLoop;
  /** SLA clocks: kept in step with conversations and tickets, swept for warnings and breaches (sla/). */
  sla: SlaTracking;
  /** Report facts: derived as events happen and by a reconciling sweep (reports/). */
  reports: ReportFacts;
  /** Automatic QA: every conversation scored seconds after it changes, transcripts of recorded calls (quality/). */
  quality: QualityScoring;
  /** Tickets following conversations: mail to a ticket address, customers' replies (tickets/listeners.ts). */
  tickets: TicketListeners;
  metrics: {
    registry: Registry;
    httpDuration: Histogram;
    events: Counter;
    sockets: { agents: number; widgets: number };
  };
  close(): Promise<void>;
};

export type RuntimeOptions = {
  /** An already connected database (tests share one per process). */
  database?: Database;
  adapters?: Partial<Record<string, ChannelAdapter>>;
  outbox?: Partial<Omit<OutboxOptions, "adapters" | "keyring">>;
  /** Wechaty bots: tests give a puppet factory (wechaty-puppet-mock), shorter polls and their workspaces. */
  wechaty?: Partial<WechatyRunnerOptions>;
  /** Outgoing webhooks: tests give a short backoff and poll. */
  webhooks?: Partial<Omit<WebhookWorkerOptions, "keyring" | "policy">>;
};

/**
 * SECRET_KEY, or (embedded database only) a key generated once and kept in DATA_DIR so tokens and
 * sealed credentials survive restarts of a one-machine install. On PostgreSQL a generated key would
 * differ per node and per new container, and what one sealed the others could not open: refused.
 */
export function secretKey(config: Config, driver: Database["driver"]) {
  if (config.secretKey) return config.secretKey;
  if (driver === "postgres")
    throw new ConfigError("SECRET_KEY", "must be set on PostgreSQL: every node and every restart needs the same key");
  const file = join(config.dataDir, "secret.key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = randomToken(48);
  writeFileSync(file, key, { mode: 0o600 });
  log.warn("SECRET_KEY is not set: generated one in DATA_DIR/secret.key (set SECRET_KEY on every node of a cluster)");
  return key;
}

/**
 * DATA_DIR holds the database, customers' files and the generated key: owner-only (0700). One made
 * by an older version or by hand with wider rights is narrowed, with a warning.
 */
function ownerOnlyDataDir(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o077) === 0) return;
  chmodSync(dir, 0o700);
  log.warn("DATA_DIR was readable by other users: narrowed to owner-only (0700)", { dir });
}

export async function createRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  ownerOnlyDataDir(config.dataDir);
  const database =
    options.database ??
    (await connect(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir }));
  let bus: EventBus;
  if (database.pg) {
    const pgBus = new PostgresBus(database.pg);
    await pgBus.ready();
    bus = pgBus;
  } else {
    bus = new InProcessBus();
  }
  const core: Core = { db: database.db, bus };
  const feed = new EventFeed(database.db, bus);
  if (bus instanceof PostgresBus) bus.setReconnectHandler(() => feed.catchUp());
  const keyring = new Keyring(secretKey(config, database.driver), [config.secretKeyPrevious]);
  // After a rotation, what the previous key sealed is sealed again at once, so it can be retired.
  if (config.secretKeyPrevious) {
    const resealed = await resealCredentials(database.db, keyring);
    if (resealed) log.info("inbox credentials sealed again with the current SECRET_KEY", { inboxes: resealed });
  }
  // Email replies get their threading headers from the database just before sending (mailboxes/outbound-headers.ts).
  const prepare: OutboxOptions["prepare"] = {};
  // WeCom customer-service replies (kf/send_msg), with WeCom's tokens shared by the nodes like WeChat's.
  const wecomApiBase = config.wecomApiBase ?? WECOM_API_BASE;
  const wecomApi = {
    apiBase: wecomApiBase,
    tokens: createWecomTokens({ apiBase: wecomApiBase, store: createAccessTokenStore(database, keyring) }),
  };
  // Image and file replies read their files from the store, created below.
  const wechat = createWechatAdapter({
    apiBase: config.wechatApiBase,
    readFile: (file) => readAttachment(rt)(file),
    // Nodes share each inbox's access token (inbox_states), refreshed by one node at a time.
    tokenStore: createAccessTokenStore(database, keyring),
    wecomApi,
    wechaty: (outbound) => rt.wechaty.send(outbound),
  });
  // This node's name in the leases it holds: a Wechaty inbox's replies are sent only where its bot runs.
  const holder = options.wechaty?.holder ?? defaultHolder();
  const worker = new OutboxWorker(core, {
    ...options.outbox,
    // The WeChat adapter caches access tokens and takes its API host from the config: one per runtime.
    adapters: options.adapters ?? {
      ...defaultAdapters,
      wechat,
      // Slack replies take SLACK_API_BASE from the config and their files from the store.
      slack: createSlackAdapter({ apiBase: config.slackApiBase, readFile: (file) => readAttachment(rt)(file) }),
      // Telegram replies take TELEGRAM_API_BASE from the config and their files from the store.
      telegram: createTelegramAdapter({
        apiBase: config.telegramApiBase,
        readFile: (file) => readAttachment(rt)(file),
      }),
    },
    keyring,
    prepare,
    pinned: { holder, leasePrefixes: [WECHATY_LEASE_PREFIX] },
  });

  const registry = new Registry();
  const sockets = { agents: 0, widgets: 0 };
  const events = registry.register(new Counter("switchboard_events_total", "Domain events published, by type"));
  bus.subscribe((m) => {
    if ("type" in m) events.inc({ type: m.type });
  });
  const httpDuration = registry.register(
    new Histogram(
      "switchboard_http_request_duration_seconds",
      "HTTP request latency",
      [0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
  );
  const stopLagWatch = watchEventLoopLag(
    registry.register(
      new Histogram(
        "switchboard_event_loop_lag_seconds",
        "How late the event loop ran a timer due every 100 ms",
        [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      ),
    ),
  );
  registry.register(
    new Gauge("switchboard_outbox_backlog", "Outbound messages waiting to be sent", async () => {
      const [row] = await database.db.select({ n: count() }).from(outbox).where(eq(outbox.status, "pending"));
      return Number(row?.n ?? 0);
    }),
  );
  registry.register(
    new Gauge("switchboard_websocket_connections_agents", "Open agent realtime sockets", () => sockets.agents),
  );
  registry.register(
    new Gauge("switchboard_websocket_connections_widgets", "Open widget sockets", () => sockets.widgets),
  );

  const inbound = new InboundQueue(core, database.driver === "postgres" ? 2 : 1);
  registry.register(
    new Gauge("switchboard_ingest_batches_total", "Inbound batches committed", () => inbound.stats.batches, "counter"),
  );
  registry.register(
    new Gauge(
      "switchboard_ingest_messages_total",
      "Inbound messages committed in batches",
      () => inbound.stats.messages,
      "counter",
    ),
  );
  registry.register(
    new Gauge(
      "switchboard_ingest_fallbacks_total",
      "Inbound batches retried message by message",
      () => inbound.stats.fallbacks,
      "counter",
    ),
  );

  // Wake the sender right after a reply commits instead of waiting for its next poll.
  bus.subscribe((m) => {
    if ("type" in m && m.type === "item.created" && (m.payload.item as { direction?: string }).direction === "out")
      worker.wake();
  });

  const router = new Router(
    core,
    bus,
    { watched: (ws) => feed.watched(ws), push: (e) => feed.publishLocal(e) },
    { ...DEFAULT_ROUTING, autoAccept: config.autoAccept },
  );

  const knowledge = createKnowledgeBase(database.db, config.meili);
  knowledge.start();

  // Housekeeping every node may run: the updates are idempotent and row-locked.
  const housekeeping = setInterval(() => void housekeep(rt), 30_000);
  housekeeping.unref?.();
  const browserCalls = new BrowserCallWatch(core);
  const files = new AttachmentStore(join(config.dataDir, "files"));
  const calls = new CallControl({
    core,
    driver: database.driver,
    keyring,
    files,
    router,
    twilioAuthToken: config.twilioAuthToken,
    publicUrl: config.publicUrl,
    port: config.port,
    outboundAllowHosts: config.outboundAllowHosts,
  });
  calls.start();

  // Outgoing webhooks: committed events become delivery rows, which any node's worker sends.
  const webhookWorker = new WebhookWorker(database.db, {
    ...options.webhooks,
    keyring,
    policy: { allowHosts: config.outboundAllowHosts },
  });
  const stopWebhookEvents = listenForWebhookEvents(database.db, bus, () => webhookWorker.wake());
  webhookWorker.start();

  let stopBot = () => {};
  const rt: Runtime = {
    config,
    database,
    core,
    feed,
    inbound,
    keyring,
    outbox: worker,
    router,
    calls,
    files,
    wechat,
    browserCalls,
    knowledge,
    wechaty: new WechatyRunner(
      { db: database.db, keyring, inbound, files, readFile: (file) => readAttachment(rt)(file) },
      { ...options.wechaty, holder },
    ),
    webhooks: webhookWorker,
    slackAlerts: new SlackAlerts({ core, bus, keyring, config }),
    automation: new Automation(core, bus, {
      sweepMs: config.automationSweepMs,
      onWebhook: () => webhookWorker.wake(),
    }),
    csat: new CsatSurveys(core, bus, {
      publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      sweepMs: config.csatSweepMs,
    }),
    reportSchedules: reportScheduleSweep({ core, files }, config.reportScheduleSweepMs, () => worker.wake()),
    sla: new SlaTracking(core, config.slaSweepMs),
    privacy: privacySweep({ db: core.db, files }, config.erasureSweepMs),
    reports: new ReportFacts(core, config.reportsSweepMs),
    tickets: new TicketListeners(core),
    quality: new QualityScoring(core, bus, {
      debounceMs: 500,
      sweepMs: config.qaSweepMs,
      provider: transcriptionProvider(config.transcriptionProvider),
      readRecording: (storageKey) => openSealed({ keyring, files }, storageKey),
    }),
    metrics: { registry, httpDuration, events, sockets },
    async close() {
      await rt.automation.stop();
      await stopWebhookEvents();
      await webhookWorker.stop();
      await rt.slackAlerts.stop();
      await rt.csat.stop();
      await rt.reportSchedules.stop();
      await rt.privacy.stop();
      await rt.sla.stop();
      await rt.reports.stop();
      await rt.tickets.stop();
      await rt.quality.stop();
      clearInterval(housekeeping);
      stopLagWatch();
      browserCalls.close();
      calls.stop();
      await router.stop();
      await rt.wechaty.stop();
      await worker.stop();
      stopBot();
      await knowledge.stop();
      feed.close();
      await bus.close();
      if (!options.database) await database.close();
    },
  };
  prepare.email = prepareEmail(rt);
  prepare.wechat = prepareWechat(rt);
  prepare.api = prepareApi(rt);
  prepare.slack = prepareSlack(rt);
  rt.slackAlerts.start();
  rt.automation.start();
  rt.csat.start();
  rt.reportSchedules.start();
  rt.privacy.start();
  rt.sla.start();
  rt.reports.start();
  rt.tickets.start();
  rt.quality.start();
  prepare.sms = prepareTwilioMessaging(rt);
  prepare.whatsapp = prepareTwilioMessaging(rt);
  registry.register(
    new Gauge(
      "switchboard_voice_batches_total",
      "Batches of call starts and IVR turns committed",
      () => calls.batchStats.batches,
      "counter",
    ),
  );
  registry.register(
    new Gauge(
      "switchboard_voice_batch_steps_total",
      "Call starts and IVR turns committed in batches",
      () => calls.batchStats.items,
      "counter",
    ),
  );
  registry.register(
    new Gauge(
      "switchboard_voice_batch_fallbacks_total",
      "Batches of call writes retried one by one",
      () => calls.batchStats.fallbacks,
      "counter",
    ),
  );
  stopBot = startKnowledgeBot({
    core,
    search: knowledge.search,
    router,
    publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
  });
  return rt;
}
