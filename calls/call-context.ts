import type { IvrFlow } from "../channels/voice/flow.ts";
import { TtlCache } from "../platform/ttl-cache.ts";
import { TwilioRest } from "../channels/voice/rest.ts";
import type { CallUrls } from "../channels/voice/twiml.ts";
import { assignWithin } from "../conversations/assignment.ts";
import { withEvents } from "../conversations/transaction.ts";
import type { Database } from "../db/connect.ts";
import type { Call } from "../db/schema/index.ts";
import { Conflict, Invalid } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { callById, isFinal } from "./call.ts";
import { CallBatch } from "./call-batch.ts";
import type { RecordingDeps } from "./recording.ts";
import { flowOf, inboxByNumber, voiceInbox, voiceInboxRow, type VoiceInbox } from "./voice-inbox.ts";

const WEBHOOKS = "/webhooks/twilio/voice";
/** How long a node reuses an inbox's settings and IVR flow before reading them again. */
const FLOW_CACHE_MS = 5000;

/** What call control needs from the node it runs on. */
export type CallDeps = RecordingDeps & {
  /** Told when a workspace has a call to offer now. */
  router: { schedule(workspaceId: string): void };
  /** On PostgreSQL two batches of call writes are in flight at once, as inbound messages are. */
  driver: Database["driver"];
  /** TWILIO_AUTH_TOKEN: verifies webhooks of inboxes that keep no token of their own. */
  twilioAuthToken: string | undefined;
  /** PUBLIC_URL: where Twilio reaches this node; else http://localhost:<port> until the server says. */
  publicUrl: string | undefined;
  port: number;
  /** OUTBOUND_ALLOW_HOSTS: private hosts the IVR's HTTP lookups may still reach. */
  outboundAllowHosts: string[];
};

/** The conference a call's legs meet in: one per call. */
export const conferenceName = (call: Pick<Call, "id">) => `call-${call.id}`;
/** The softphone identity Twilio rings for an agent (the Voice SDK registers under it). */
export const clientIdentity = (userId: string) => `agent-${userId}`;

/**
 * What every part of call control shares: its dependencies, the voice inboxes and IVR flows read in
 * the last few seconds, the batch call writes go through, and how Twilio is reached (its REST API)
 * and reaches us (webhook URLs). Every piece of call state is in the database; what this keeps is
 * only a short-lived cache, so any node can answer any webhook.
 */
export class CallContext {
  private readonly flows = new TtlCache<string, IvrFlow>(FLOW_CACHE_MS);
  private readonly inboxes = new TtlCache<string, VoiceInbox>(FLOW_CACHE_MS);
  private readonly numbers = new TtlCache<string, VoiceInbox>(FLOW_CACHE_MS);
  private baseUrl: string;
  /** Call starts and IVR turns, written in batches (on PostgreSQL two in flight, as inbound messages). */
  readonly batch: CallBatch;

  constructor(readonly deps: CallDeps) {
    this.baseUrl = deps.publicUrl ?? `http://localhost:${deps.port}`;
    this.batch = new CallBatch(deps.core, deps.driver === "postgres" ? 2 : 1);
  }

  /** Batches of call writes committed, steps in them, and batches retried one by one (metrics). */
  get batchStats() {
    return this.batch.stats;
  }

  /** Where Twilio reaches this node (for the absolute URLs REST calls need). */
  setBaseUrl(url: string) {
    if (!this.deps.publicUrl) this.baseUrl = url.replace(/\/$/, "");
  }

  get publicBase() {
    return this.baseUrl;
  }

  /** A voice inbox with its opened credentials, reused for a few seconds (every webhook needs it). */
  async inbox(inboxId: string) {
    return this.inboxes.getOr(inboxId, async () => {
      const row = await voiceInboxRow(this.deps.core.db, inboxId);
      return row ? voiceInbox(row, this.deps.keyring, this.deps.twilioAuthToken) : undefined;
    });
  }

  /** The voice inbox a number belongs to, reused like `inbox` (every incoming call looks it up). */
  async inboxByNumber(number: string) {
    // Unknown numbers are not remembered: a line added a moment ago answers at once.
    return this.numbers.getOr(number, async () => {
      const row = await inboxByNumber(this.deps.core.db, number);
      return row ? voiceInbox(row, this.deps.keyring, this.deps.twilioAuthToken) : undefined;
    });
  }

  /** The flow of an inbox, read at most every few seconds per node: every webhook of a call needs it. */
  async flow(inboxId: string) {
    const kept = this.flows.get(inboxId);
    if (kept) return kept;
    const flow = await flowOf(this.deps.core.db, inboxId);
    this.flows.set(inboxId, flow);
    return flow;
  }

  /** A saved flow applies at once on this node (others pick it up within FLOW_CACHE_MS). */
  forgetFlow(inboxId: string) {
    this.flows.delete(inboxId);
  }

  /** TwiML's own links, relative: Twilio resolves them against the request it made. */
  urls(inbox: VoiceInbox, call: Pick<Call, "id">): CallUrls {
    const at = (path: string, extra = "") => `${WEBHOOKS}/${path}?inbox=${inbox.row.id}&call=${call.id}${extra}`;
    return {
      gather: (step) => at("gather", `&step=${step}`),
      wait: () => at("wait"),
      waitKey: () => at("wait-key"),
      voicemail: () => at("voicemail"),
      recording: () => at("recording"),
      transcription: () => at("transcription"),
      conference: () => at("conference"),
    };
  }

  /** Absolute links, for what we hand Twilio's REST API. */
  at(inbox: VoiceInbox, call: Pick<Call, "id">, path: string, extra = "") {
    return `${this.baseUrl}${WEBHOOKS}/${path}?inbox=${inbox.row.id}&call=${call.id}${extra}`;
  }

  rest(inbox: VoiceInbox) {
    if (!inbox.account)
      throw new Invalid("This voice inbox has no Twilio account (accountSid and authToken)", "inboxId");
    const base = inbox.account.apiBaseUrl;
    // A path (the demo's "/simulator/twilio") is this node's own built-in simulator.
    return new TwilioRest({ ...inbox.account, apiBaseUrl: base?.startsWith("/") ? `${this.baseUrl}${base}` : base });
  }

  /** A call an agent acts on: it must not have ended, and must be a phone call. */
  async liveCall(workspaceId: string, callId: string) {
    const call = await callById(this.deps.core.db, workspaceId, callId);
    if (isFinal(call.status)) throw new Conflict("The call has ended", "callId");
    const inbox = await this.inbox(call.inboxId);
    if (!inbox) throw new Invalid("Only phone calls support this", "callId");
    return { call, inbox };
  }

  /** The conversation follows the call's agent, with its timeline event, so every inbox sees it. */
  reassign(conversationId: string, agentId: string | null) {
    return withEvents(this.deps.core, (tx, events) => assignWithin(tx, events, "system", conversationId, agentId));
  }

  /** A Twilio request whose failure must not stop what follows (a leg that is already gone). */
  async quietly(work: () => Promise<unknown>) {
    try {
      await work();
    } catch (err) {
      log.warn("voice: Twilio request failed", { err: err instanceof Error ? err.message : String(err) });
    }
  }
}
