import { App, LogLevel, type Logger } from "@slack/bolt";
import type { SlackEnvelope } from "../../../channels/slack/index.ts";
import { log } from "../../../platform/log.ts";
import { HonoReceiver } from "./receiver.ts";

/** How many inboxes' Bolt apps one node keeps; the least recently used one goes first. */
const MAX_APPS = 200;
/** users.info is asked once an hour per person at most. */
const NAME_TTL_MS = 3_600_000;
const MAX_NAMES = 5000;

export type SlackInboxApp = {
  receiver: HonoReceiver;
  app: App;
  /** The writer's display name (users.info), cached; undefined when Slack does not say. */
  displayName(userId: string): Promise<string | undefined>;
};

export type SlackMessageHandler = (envelope: SlackEnvelope, inboxApp: SlackInboxApp) => Promise<void>;

/** Bolt's logging through ours, so LOG_LEVEL governs it and its lines are JSON like every other. */
const boltLogger: Logger = {
  debug: (...msg) => log.debug(`slack: ${msg.map(String).join(" ")}`),
  info: (...msg) => log.info(`slack: ${msg.map(String).join(" ")}`),
  warn: (...msg) => log.warn(`slack: ${msg.map(String).join(" ")}`),
  error: (...msg) => log.error(`slack: ${msg.map(String).join(" ")}`),
  setLevel: () => {},
  getLevel: () => LogLevel.DEBUG,
  setName: () => {},
};

/**
 * One Bolt app per Slack inbox (its bot token and bot user), made on the first request that needs it
 * and kept per node while the inbox stays as it is: a changed token, bot user or API base (the
 * `fingerprint`) makes a new one.
 */
export class SlackApps {
  private readonly apps = new Map<string, { fingerprint: string; inboxApp: SlackInboxApp }>();

  constructor(private readonly onMessage: SlackMessageHandler) {}

  get(inboxId: string, fingerprint: string, setup: { botToken: string; botUserId?: string; apiBase: string }) {
    const cached = this.apps.get(inboxId);
    if (cached && cached.fingerprint === fingerprint) {
      // Map order is insertion order: moved to the end, it is the most recently used.
      this.apps.delete(inboxId);
      this.apps.set(inboxId, cached);
      return cached.inboxApp;
    }
    const inboxApp = this.create(setup);
    this.apps.delete(inboxId);
    this.apps.set(inboxId, { fingerprint, inboxApp });
    while (this.apps.size > MAX_APPS) this.apps.delete(this.apps.keys().next().value!);
    return inboxApp;
  }

  /** Drops the apps of inboxes that changed or went away (tests; an admin's change is caught by the fingerprint). */
  clear() {
    this.apps.clear();
  }

  private create(setup: { botToken: string; botUserId?: string; apiBase: string }): SlackInboxApp {
    const receiver = new HonoReceiver();
    const app = new App({
      // The inbox's own token and bot user, as setup proved them with auth.test: Bolt's single-team
      // authorization would ask auth.test again on each node before its first event.
      authorize: async () => ({ botToken: setup.botToken, botUserId: setup.botUserId }),
      receiver,
      // Conversation state in one node's memory would differ between nodes: none.
      convoStore: false,
      logger: boltLogger,
      clientOptions: {
        slackApiUrl: `${setup.apiBase}/api/`,
        // Inside a webhook answer: Slack waits 3 s, so no retries and a short timeout here.
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: 2000,
      },
    });
    // Errors reach the route, which answers 500 so that Slack delivers the event again.
    app.error(async (error) => {
      throw (error as { original?: unknown }).original ?? error;
    });
    const names = new Map<string, { at: number; name: string | undefined }>();
    const inboxApp: SlackInboxApp = {
      receiver,
      app,
      async displayName(userId) {
        const known = names.get(userId);
        if (known && Date.now() - known.at < NAME_TTL_MS) return known.name;
        const name = await app.client.users
          .info({ user: userId })
          .then((r) => {
            const u = r.user;
            return u?.profile?.display_name || u?.real_name || u?.name || undefined;
          })
          .catch((err: unknown) => {
            log.debug("slack: users.info failed", { userId, err: err instanceof Error ? err.message : String(err) });
            return known?.name;
          });
        if (names.size >= MAX_NAMES) names.clear();
        names.set(userId, { at: Date.now(), name });
        return name;
      },
    };
    app.event("message", async ({ body }) => this.onMessage(body as SlackEnvelope, inboxApp));
    return inboxApp;
  }
}
