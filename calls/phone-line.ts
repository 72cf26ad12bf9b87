import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import { conversations, inboxes, queues, type Inbox } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import type { Keyring } from "../platform/crypto.ts";
import { mintsTokens, voiceInbox, voiceToken, type VoiceInbox } from "./voice-inbox.ts";

/**
 * Chat → voice through Twilio: a web chat inbox may name a phone line (a voice inbox with an API
 * key and a TwiML app) for its widget's call button. The visitor's browser then joins with Twilio's
 * Voice SDK under an identity that names their contact; Twilio calls the TwiML app's voice URL
 * (our incoming-call webhook) with that identity as `From`, the line's number as `To` and the chat's
 * conversation as a parameter, and the call waits in the line's queue inside the chat's own thread.
 */

export const CallLineBody = z.object({
  /** null: the widget calls browser to browser (WebRTC) again. */
  voiceInboxId: z.uuid().nullable(),
  queueId: z.uuid().optional(),
});

/** A visitor's token lives long enough to place one call; the SDK needs it only to connect. */
const VISITOR_TOKEN_TTL_S = 600;
const VISITOR = "visitor-";

/** The Voice SDK identity of a chatting visitor: Twilio vouches for it as `client:<identity>` on the call. */
export const visitorIdentity = (contactId: string) => `${VISITOR}${contactId}`;

/** A call from a browser (a Voice SDK identity, `client:…`) rather than a phone: it has no number to call back. */
export const fromBrowser = (address: string | null | undefined) => !!address?.startsWith("client:");

/** The contact a Twilio client call comes from, when `From` is a visitor's identity. */
export function visitorOfCaller(from: string): string | undefined {
  const m = /^client:visitor-([0-9a-f-]{36})$/i.exec(from);
  return m?.[1]?.toLowerCase();
}

/** Saves (or clears) a web chat inbox's call line, after checking the line can take widget calls. */
export async function setCallLine(
  db: Executor,
  keyring: Keyring,
  workspaceId: string,
  webchatInboxId: string,
  input: z.infer<typeof CallLineBody>,
  envToken: string | undefined,
) {
  const [chat] = await db
    .select()
    .from(inboxes)
    .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, webchatInboxId)));
  if (!chat) throw new NotFound("Inbox", "id");
  if (chat.channel !== "webchat") throw new Invalid("Only web chat inboxes have a call button", "id");
  const { callLine: _previous, ...rest } = chat.settings;
  let settings = rest;
  if (input.voiceInboxId) {
    const [row] = await db
      .select()
      .from(inboxes)
      .where(
        and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, input.voiceInboxId), eq(inboxes.channel, "voice")),
      );
    if (!row) throw new Invalid("No such phone line in this workspace", "voiceInboxId");
    const line = voiceInbox(row, keyring, envToken);
    if (!mintsTokens(line) || !line.credentials.twimlAppSid)
      throw new Invalid(
        "This phone line needs an API key and a TwiML app (its voice URL: /webhooks/twilio/voice) for calls from the widget",
        "voiceInboxId",
      );
    if (!input.queueId) throw new Invalid("Choose the queue widget calls wait in", "queueId");
    const [queue] = await db
      .select({ id: queues.id })
      .from(queues)
      .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, input.queueId)));
    if (!queue) throw new Invalid("No such queue in this workspace", "queueId");
    settings = { ...rest, callLine: { voiceInboxId: row.id, queueId: queue.id } };
  }
  const [saved] = await db.update(inboxes).set({ settings }).where(eq(inboxes.id, chat.id)).returning();
  return saved!;
}

/** The phone line a web chat inbox's calls go through, if one is set and still able to take them. */
export async function callLineOf(db: Executor, keyring: Keyring, chat: Inbox, envToken: string | undefined) {
  const set = chat.settings.callLine;
  if (!set) return undefined;
  const [row] = await db
    .select()
    .from(inboxes)
    .where(
      and(eq(inboxes.workspaceId, chat.workspaceId), eq(inboxes.id, set.voiceInboxId), eq(inboxes.channel, "voice")),
    );
  const line = row && voiceInbox(row, keyring, envToken);
  if (!line || !mintsTokens(line) || !line.settings.phoneNumber) return undefined;
  return { line, queueId: set.queueId };
}

/**
 * What the widget needs to place the call: a short-lived token (outgoing only: a visitor's browser is
 * never rung) and the parameters the SDK passes on to our webhook.
 */
export function visitorCallTicket(line: VoiceInbox, contactId: string, conversationId: string) {
  return {
    ...voiceToken(line, visitorIdentity(contactId), { incoming: false, ttlS: VISITOR_TOKEN_TTL_S }),
    params: { To: line.settings.phoneNumber!, conversationId },
  };
}

/**
 * The chat a visitor's Twilio call continues, checked against what Twilio vouches for: the caller is
 * that conversation's contact, the conversation is open, and its inbox sends calls to this line.
 * Anything else is refused (the caller hears a polite goodbye).
 */
export async function widgetCallTarget(
  db: Executor,
  line: VoiceInbox,
  contactId: string,
  conversationId: string | undefined,
) {
  if (!conversationId || !z.uuid().safeParse(conversationId).success) return undefined;
  const [row] = await db
    .select({ id: conversations.id, contactId: conversations.contactId, settings: inboxes.settings })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(
      and(
        eq(conversations.workspaceId, line.row.workspaceId),
        eq(conversations.id, conversationId),
        inArray(conversations.status, ["open", "pending", "snoozed"]),
      ),
    );
  if (!row || row.contactId !== contactId || row.settings.callLine?.voiceInboxId !== line.row.id) return undefined;
  return { conversationId: row.id, queueId: row.settings.callLine.queueId };
}

/** The widget asked for a Twilio call but its inbox has no usable line. */
export const noCallLine = () => new Conflict("This chat has no phone line for calls: use the browser call", "callLine");
