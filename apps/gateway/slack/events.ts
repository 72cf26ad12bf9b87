import { and, eq } from "drizzle-orm";
import { TtlCache } from "../../../platform/ttl-cache.ts";
import { Hono } from "hono";
import {
  envelopeOf,
  parseMessageEvent,
  slackApiBaseOf,
  teamOf,
  verifySlackSignature,
  type SlackEnvelope,
} from "../../../channels/slack/index.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { provenRoute } from "../../../conversations/inbox-route.ts";
import { inboxes, type Inbox } from "../../../db/schema/index.ts";
import { Forbidden, Invalid } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import { SlackApps, type SlackInboxApp } from "./bolt-apps.ts";
import { ingestSlackMessage, RootNotYetStored, type SlackInboxFacts } from "./inbound.ts";

/** How long a node reuses a team's inbox and opened secrets; a changed secret applies within it. */
const INBOX_CACHE_MS = 5000;
/** url_verification names no team: the secrets of at most this many Slack inboxes are tried. */
const MAX_VERIFY_CANDIDATES = 1000;

type TeamInbox = SlackInboxFacts & { signingSecret: string; botUserId?: string; fingerprint: string };

/**
 * `POST /webhooks/slack/events`, the Request URL of every Slack inbox's app (Event Subscriptions).
 * The team in the body picks the inbox, whose signing secret must have signed the raw body within five
 * minutes (else 403, nothing stored); then the inbox's Bolt app processes the event and Slack hears
 * 200 once the message is committed. A retry (X-Slack-Retry-Num) of a stored message stores nothing.
 */
export function slackEvents(rt: Runtime) {
  const app = new Hono();
  const cache = new TtlCache<string, TeamInbox>(INBOX_CACHE_MS);
  // Slack retries a delivery that took over 3 s while the first may still be working (downloading a
  // file): on this node the retry waits for it instead of downloading again.
  const inFlight = new Map<string, Promise<unknown>>();
  const apps = new SlackApps(async (envelope, inboxApp) => {
    const facts = factsOf.get(inboxApp);
    if (!facts) return;
    const key = `${facts.inbox.id}:${envelope.event?.channel}:${envelope.event?.ts}`;
    await inFlight.get(key)?.catch(() => {});
    const work = onMessage(rt, facts, envelope, inboxApp);
    inFlight.set(key, work);
    try {
      await work;
    } finally {
      if (inFlight.get(key) === work) inFlight.delete(key);
    }
  });
  // Which inbox a Bolt app serves, for its listener (an app is made for exactly one inbox).
  const factsOf = new WeakMap<SlackInboxApp, TeamInbox>();

  const open = (row: Inbox): TeamInbox | undefined => {
    const credentials = readCredentials(rt.keyring, row, rt.core.db);
    const { botToken, signingSecret } = credentials;
    if (typeof botToken !== "string" || typeof signingSecret !== "string") return undefined;
    const botUserId = typeof row.settings.botUserId === "string" ? row.settings.botUserId : undefined;
    const apiBase = slackApiBaseOf(row.settings, rt.config.slackApiBase);
    return {
      inbox: row,
      botToken,
      signingSecret,
      botUserId,
      apiBase,
      fingerprint: `${row.credentials}|${botUserId}|${apiBase}`,
    };
  };

  // A team without an inbox is not remembered: an inbox created a moment ago answers at once.
  const inboxOfTeam = (team: string) =>
    cache.getOr(team, async () => {
      const route = await provenRoute(rt.core.db, "slack_team", team);
      const [row] = route
        ? await rt.core.db
            .select()
            .from(inboxes)
            .where(and(eq(inboxes.id, route.inboxId), eq(inboxes.channel, "slack")))
        : [];
      return row ? open(row) : undefined;
    });

  // The signing secrets of every Slack inbox, opened once per INBOX_CACHE_MS: an unsigned flood of URL
  // checks costs one read, not one unsealing per inbox per request.
  let secrets: { at: number; list: Promise<string[]> } | undefined;
  const secretsAge = () => (secrets ? Date.now() - secrets.at : Number.POSITIVE_INFINITY);
  function allSecrets(fresh = false) {
    if (secrets && !fresh && secretsAge() < INBOX_CACHE_MS) return secrets.list;
    const list = rt.core.db
      .select()
      .from(inboxes)
      .where(eq(inboxes.channel, "slack"))
      .limit(MAX_VERIFY_CANDIDATES)
      .then((rows) =>
        rows.flatMap((row) => {
          try {
            const secret = readCredentials(rt.keyring, row).signingSecret;
            return typeof secret === "string" ? [secret] : [];
          } catch {
            // An inbox sealed with a lost key cannot have signed it; the others still may.
            return [];
          }
        }),
      );
    secrets = { at: Date.now(), list };
    list.catch(() => (secrets = undefined));
    return list;
  }

  app.post("/webhooks/slack/events", async (c) => {
    const raw = await c.req.text();
    const envelope = envelopeOf(raw);
    if (!envelope) throw new Invalid("The body must be a JSON object", "body");
    const headers = {
      timestamp: c.req.header("x-slack-request-timestamp"),
      signature: c.req.header("x-slack-signature"),
    };
    if (envelope.type === "url_verification") {
      if (typeof envelope.challenge !== "string") throw new Invalid("challenge is missing", "challenge");
      // Slack signs the check too, but names no team: any Slack inbox whose secret signed it passes.
      const signedBy = (list: string[]) => list.some((secret) => verifySlackSignature(secret, headers, raw).ok);
      // An inbox created within the cache's time is found by reading again (at most once a second).
      const signed = signedBy(await allSecrets()) || (secretsAge() > 1000 && signedBy(await allSecrets(true)));
      if (!signed) throw new Forbidden("The request is not signed with the signing secret of a Slack inbox");
      return c.json({ challenge: envelope.challenge });
    }
    const team = teamOf(envelope);
    if (!team) throw new Invalid("team_id is missing", "team_id");
    const inbox = await inboxOfTeam(team);
    // An unknown team and a wrong signature answer alike: whether a team has an inbox here is not told.
    if (!inbox) throw new Forbidden("The request is not signed with the signing secret of this team's inbox");
    const check = verifySlackSignature(inbox.signingSecret, headers, raw);
    if (!check.ok) throw new Forbidden(check.reason);

    const inboxApp = apps.get(inbox.inbox.id, inbox.fingerprint, inbox);
    factsOf.set(inboxApp, inbox);
    const retryNum = Number(c.req.header("x-slack-retry-num") ?? "");
    await inboxApp.receiver.dispatch(envelope as Record<string, unknown>, {
      num: Number.isInteger(retryNum) ? retryNum : undefined,
      reason: c.req.header("x-slack-retry-reason"),
    });
    return c.body(null, 200);
  });

  return app;
}

async function onMessage(rt: Runtime, facts: TeamInbox, envelope: SlackEnvelope, inboxApp: SlackInboxApp) {
  const decision = parseMessageEvent(envelope, facts.botUserId);
  if ("ignore" in decision) {
    log.debug("slack: event ignored", { inboxId: facts.inbox.id, eventId: envelope.event_id, why: decision.ignore });
    return;
  }
  try {
    await ingestSlackMessage(rt, facts, decision.message, (userId) => inboxApp.displayName(userId));
  } catch (err) {
    if (err instanceof RootNotYetStored) log.info("slack: a thread reply came before its thread; Slack will retry");
    throw err;
  }
}
