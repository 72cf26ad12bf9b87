import { and, eq } from "drizzle-orm";
import twilio from "twilio";
import type { Executor } from "../db/connect.ts";
import { readCredentials } from "../conversations/inbox.ts";
import { provenRoute } from "../conversations/inbox-route.ts";
import { inboxes, ivrFlows, type Inbox } from "../db/schema/index.ts";
import { IvrFlow, type IvrLanguage } from "../channels/voice/flow.ts";
import type { TwilioAccount } from "../channels/voice/rest.ts";
import type { Keyring } from "../platform/crypto.ts";

/** A voice inbox's settings: its number, recording policy, and (for the simulator) the REST base. */
export type VoiceSettings = {
  phoneNumber?: string;
  recording?: "always" | "on_demand" | "never";
  recordingRetentionDays?: number;
  language?: IvrLanguage;
  /** Where Twilio's REST API is reached; only set for the built-in simulator or a test stand-in. */
  apiBaseUrl?: string;
};

/** Sealed in `inboxes.credentials`. The auth token signs webhooks; the API key makes softphone tokens. */
export type VoiceCredentials = {
  accountSid?: string;
  authToken?: string;
  apiKeySid?: string;
  apiKeySecret?: string;
  twimlAppSid?: string;
};

export type VoiceInbox = {
  row: Inbox;
  settings: VoiceSettings;
  credentials: VoiceCredentials;
  /** The token webhooks are verified with: the inbox's own, else TWILIO_AUTH_TOKEN. */
  authToken: string | undefined;
  /** REST access, when the inbox has an account. */
  account: TwilioAccount | undefined;
  language: IvrLanguage;
};

/** A voice inbox with its credentials opened; sealed with a lost key: a 409 naming it (readCredentials). */
export function voiceInbox(row: Inbox, keyring: Keyring, envToken: string | undefined): VoiceInbox {
  const credentials: VoiceCredentials = readCredentials(keyring, row);
  const settings = row.settings as VoiceSettings;
  const authToken = credentials.authToken ?? envToken;
  const accountSid = credentials.accountSid;
  return {
    row,
    settings,
    credentials,
    authToken,
    account: accountSid && authToken ? { accountSid, authToken, apiBaseUrl: settings.apiBaseUrl } : undefined,
    language: settings.language ?? "en",
  };
}

/** Whether the inbox can mint Voice SDK access tokens: it has an API key. */
export const mintsTokens = (i: VoiceInbox) =>
  !!(i.credentials.accountSid && i.credentials.apiKeySid && i.credentials.apiKeySecret);

/**
 * A Voice SDK access token for `identity`, signed with the inbox's API key: `incoming` lets Twilio
 * ring the identity (agents' softphones); outgoing calls go to the inbox's TwiML app.
 */
export function voiceToken(inbox: VoiceInbox, identity: string, options: { incoming: boolean; ttlS: number }) {
  const { accountSid, apiKeySid, apiKeySecret, twimlAppSid } = inbox.credentials;
  const { AccessToken } = twilio.jwt;
  const token = new AccessToken(accountSid!, apiKeySid!, apiKeySecret!, { identity, ttl: options.ttlS });
  token.addGrant(
    new AccessToken.VoiceGrant({
      incomingAllow: options.incoming,
      ...(twimlAppSid ? { outgoingApplicationSid: twimlAppSid } : {}),
    }),
  );
  return { identity, token: token.toJwt(), expiresAt: new Date(Date.now() + options.ttlS * 1000).toISOString() };
}

/** The voice inbox Twilio's incoming call is for, by the number called (`To`): its proven route. */
export async function inboxByNumber(db: Executor, number: string) {
  const route = await provenRoute(db, "voice", number);
  if (!route) return undefined;
  const [row] = await db
    .select()
    .from(inboxes)
    .where(and(eq(inboxes.id, route.inboxId), eq(inboxes.channel, "voice")));
  return row;
}

export async function voiceInboxRow(db: Executor, inboxId: string) {
  const [row] = await db
    .select()
    .from(inboxes)
    .where(and(eq(inboxes.id, inboxId), eq(inboxes.channel, "voice")));
  return row;
}

/** A flow for an inbox nobody has designed one for yet: take a message, never an error tone. */
export const VOICEMAIL_ONLY: IvrFlow = IvrFlow.parse({
  start: "voicemail",
  nodes: {
    voicemail: {
      type: "voicemail",
      prompt: {
        en: "Thank you for calling. Nobody can take your call right now.",
        "zh-CN": "感谢您的来电，目前无人接听。",
      },
    },
  },
});

export async function flowOf(db: Executor, inboxId: string): Promise<IvrFlow> {
  const [row] = await db.select().from(ivrFlows).where(eq(ivrFlows.inboxId, inboxId));
  if (!row) return VOICEMAIL_ONLY;
  const parsed = IvrFlow.safeParse(row.flow);
  return parsed.success ? parsed.data : VOICEMAIL_ONLY;
}
