import { accountHoldsNumber } from "../../channels/voice/rest.ts";
import { callSlack, slackApiBaseOf } from "../../channels/slack/api.ts";
import { SlackSetup, slackInboxOf } from "../../channels/slack/setup.ts";
import { PermanentSendError } from "../../conversations/channel.ts";
import { BotRefused, connectBot } from "../../channels/telegram/api.ts";
import { apiRootOf, TelegramSetup, telegramInboxOf } from "../../channels/telegram/setup.ts";
import { messagingInboxOf, TwilioMessagingSetup } from "../../channels/twilio-messaging/setup.ts";
import type { ListedInbox } from "../../conversations/inbox.ts";
import type { Channel, InboxSettings } from "../../db/schema/index.ts";
import { randomToken } from "../../platform/crypto.ts";
import { Conflict, Invalid } from "../../platform/errors.ts";
import { checkOutboundUrl, OutboundRefused } from "../../platform/outbound.ts";
import { parseInput } from "../../platform/validation.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * How `POST /api/v1/inboxes` creates an inbox of each messaging channel, and what `GET /api/v1/inboxes`
 * shows of it: one entry per channel, so a new channel adds an entry here instead of a branch in the
 * route. Each validates its own fields (a 400 naming the field), proves what must be proven with the
 * provider, and splits what it stores into public settings and sealed credentials.
 */
export type NewInbox = {
  settings: InboxSettings;
  credentials?: Record<string, unknown>;
  /** Shown in the 201 only (a generated secret); never again. */
  shownOnce?: Record<string, unknown>;
};

export type ChannelSetup = {
  /** `publicUrl`: where providers reach this server (PUBLIC_URL, else the address the admin used). */
  /**
   * `inboxId`: the id the inbox will be stored under, for providers that must be told its webhook URL
   * first (Telegram's setWebhook); nothing is stored if this throws.
   */
  create(rt: Runtime, input: Record<string, unknown>, at: { publicUrl: string; inboxId: string }): Promise<NewInbox>;
  /** Beyond id, name and channel: public ids and the absolute URL to paste into the provider's console. */
  view(inbox: ListedInbox, publicUrl: string): Record<string, unknown>;
};

/** An inbox's own API base is a URL the server will call: the outbound-URL policy applies to it. */
async function checkApiBase(rt: Runtime, apiBaseUrl: string | undefined) {
  if (!apiBaseUrl) return;
  try {
    await checkOutboundUrl(new URL(apiBaseUrl), { allowHosts: rt.config.outboundAllowHosts });
  } catch (err) {
    if (err instanceof OutboundRefused) throw new Invalid(`apiBaseUrl: ${err.message}`, "apiBaseUrl");
    throw err;
  }
}

const pick = (settings: InboxSettings, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((k) => settings[k] !== undefined).map((k) => [k, settings[k]]));

function twilioMessaging(channel: "sms" | "whatsapp"): ChannelSetup {
  return {
    async create(rt, input) {
      const setup = parseInput(TwilioMessagingSetup, input);
      if (channel === "sms" && setup.templates.length)
        throw new Invalid("templates: only WhatsApp inboxes have templates", "templates");
      await checkApiBase(rt, setup.apiBaseUrl);
      const apiBaseUrl = setup.apiBaseUrl ?? rt.config.twilioApiBaseUrl;
      const holds = await accountHoldsNumber({ ...setup, apiBaseUrl }, setup.phoneNumber).catch((err: unknown) => {
        throw new Conflict(
          `Twilio could not be asked about this account: ${err instanceof Error ? err.message : String(err)}`,
          "accountSid",
        );
      });
      if (holds === "unauthorized") throw new Invalid("Twilio refused this Account SID and auth token", "authToken");
      // An SMS number must be the account's own. A WhatsApp sender need not be one of its phone
      // numbers (Twilio's sandbox is shared): its routing key names the account, whose token signs
      // every webhook, so nobody else can take its messages.
      if (channel === "sms" && !holds)
        throw new Invalid(
          "This Twilio account does not hold this number (Phone Numbers in the Twilio console)",
          "phoneNumber",
        );
      return messagingInboxOf(setup);
    },
    view(inbox, publicUrl) {
      return {
        ...pick(inbox.settings, ["phoneNumber", "accountSid", "templates"]),
        webhookUrl: `${publicUrl}/webhooks/twilio/messaging`,
        statusCallbackUrl: `${publicUrl}/webhooks/twilio/messaging/status`,
      };
    },
  };
}

const slack: ChannelSetup = {
  async create(rt, input) {
    const setup = parseInput(SlackSetup, input);
    await checkApiBase(rt, setup.apiBaseUrl);
    // The team is a routing key: Slack's auth.test proves the bot token is that team's bot user.
    const apiBase = slackApiBaseOf({ apiBaseUrl: setup.apiBaseUrl }, rt.config.slackApiBase);
    const me = await callSlack<{ team_id?: string; user_id?: string }>(
      { apiBase, token: setup.botToken },
      "auth.test",
      {},
    ).catch((err: unknown) => {
      if (err instanceof PermanentSendError)
        throw new Invalid(`Slack refused this bot token: ${err.message}`, "botToken");
      throw new Conflict(`Slack could not be asked about this bot token: ${(err as Error).message}`, "botToken");
    });
    if (me.team_id !== setup.teamId)
      throw new Invalid(`This bot token belongs to the Slack team ${me.team_id ?? "?"}, not ${setup.teamId}`, "teamId");
    if (me.user_id !== setup.botUserId)
      throw new Invalid(`This bot token's bot user is ${me.user_id ?? "?"}, not ${setup.botUserId}`, "botUserId");
    return slackInboxOf(setup);
  },
  view(inbox, publicUrl) {
    return {
      ...pick(inbox.settings, ["teamId", "botUserId", "alertChannel"]),
      webhookUrl: `${publicUrl}/webhooks/slack/events`,
    };
  },
};

const telegram: ChannelSetup = {
  async create(rt, input, { publicUrl, inboxId }) {
    const setup = parseInput(TelegramSetup, input);
    await checkApiBase(rt, setup.apiBaseUrl);
    // Without one given, a strong secret is made; Telegram is told it when the webhook is set.
    const secretToken = setup.secretToken ?? randomToken(32);
    // Telegram hears of the inbox before it is stored: a refusal (a wrong token, a URL Telegram will not
    // call) leaves nothing behind.
    const bot = await connectBot(setup.botToken, apiRootOf(setup, rt.config.telegramApiBase), {
      url: `${publicUrl}/webhooks/telegram/${inboxId}`,
      secretToken,
    }).catch((err: unknown) => {
      if (err instanceof BotRefused && err.what === "token") throw new Invalid(err.message, "botToken");
      // PUBLIC_URL is the server's, not a field of this request: the admin must fix the configuration.
      if (err instanceof BotRefused)
        throw new Conflict(`${err.message}: Telegram calls only https URLs it can reach (PUBLIC_URL)`);
      throw new Conflict(err instanceof Error ? err.message : String(err), "botToken");
    });
    return { ...telegramInboxOf(setup, secretToken, bot), shownOnce: setup.secretToken ? {} : { secretToken } };
  },
  view(inbox, publicUrl) {
    return {
      ...pick(inbox.settings, ["botId", "botUsername", "greeting"]),
      webhookUrl: `${publicUrl}/webhooks/telegram/${inbox.id}`,
    };
  },
};

export const channelSetups: Partial<Record<Channel, ChannelSetup>> = {
  sms: twilioMessaging("sms"),
  whatsapp: twilioMessaging("whatsapp"),
  slack,
  telegram,
};
