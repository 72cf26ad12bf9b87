import { and, eq, inArray } from "drizzle-orm";
import { appendSystemEvent, assignWithin } from "../conversations/conversation.ts";
import { callById, changeCall, changeCallWithin, findCall, isFinal, startCall } from "./call.ts";
import { CallBatch } from "./call-batch.ts";
import type { EventLog } from "../conversations/event.ts";
import type { Tx } from "../db/connect.ts";
import { withEvents } from "../conversations/transaction.ts";
import { calls, queues, type Call, type CallStatus, type IvrState } from "../db/schema/index.ts";
import type { IvrFlow, IvrLanguage } from "../channels/voice/flow.ts";
import { runIvr, startState, type IvrInput, type IvrStep } from "../channels/voice/ivr.ts";
import { customerStatus, type StatusCallback } from "../channels/voice/parse.ts";
import { phrases } from "../channels/voice/phrases.ts";
import { TwilioRest } from "../channels/voice/rest.ts";
import {
  apologyTwiml,
  conferenceTwiml,
  ivrTwiml,
  sayTwiml,
  waitTwiml,
  type CallUrls,
} from "../channels/voice/twiml.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { abandonCallWork, enqueueCall, enqueueCallWithin, finishCallWork } from "./queue.ts";
import { queuePosition } from "../routing/estimate.ts";
import { listTeams, transferTarget } from "../routing/agent.ts";
import { isOpen } from "../routing/hours.ts";
import { presenceOf } from "../routing/presence.ts";
import { listQueues } from "../routing/queue.ts";
import { DEFAULT_ROUTING, followAssignment, transferToAgent } from "../routing/work.ts";
import type { Runtime } from "../apps/server/runtime.ts";
import { fromBrowser, visitorOfCaller, widgetCallTarget } from "./phone-line.ts";
import { flowOf, inboxByNumber, voiceInbox, voiceInboxRow, type VoiceInbox } from "./voice-inbox.ts";
import { recordingsToFetch, storeRecording } from "./recording.ts";
import { fetchOutbound } from "../platform/outbound.ts";

const WEBHOOKS = "/webhooks/twilio/voice";
/** How long a node reuses an inbox's settings and IVR flow before reading them again. */
const FLOW_CACHE_MS = 5000;

type Eta = { position: number; estimatedWaitS: number | null } | undefined;
type Turn = {
  next: IvrState;
  step: IvrStep;
  reply: string;
  status: CallStatus;
  language: IvrLanguage;
  newPath: IvrState["path"];
  callbackNumber: string | null;
  enqueue: { queueId: string } | undefined;
};
/** A transferred call is not offered back to the agent who just let it go. */
const NOT_STICKY = { ...DEFAULT_ROUTING, stickyMs: 0 };

/** The conference a call's legs meet in: one per call. */
export const conferenceName = (call: Pick<Call, "id">) => `call-${call.id}`;
/** The softphone identity Twilio rings for an agent (the Voice SDK registers under it). */
export const clientIdentity = (userId: string) => `agent-${userId}`;

/**
 * Drives phone calls: answers Twilio's webhooks from the IVR flow and the call's state, and moves
 * calls with Twilio's REST API when agents act (answer, hold, transfer, hang up, monitor). Every
 * piece of state is in the database, so any node can answer any webhook.
 */
export class CallControl {
  private unsubscribe: (() => void) | undefined;
  private readonly flows = new Map<string, { at: number; flow: IvrFlow }>();
  private readonly inboxes = new Map<string, { at: number; inbox: VoiceInbox }>();
  private readonly numbers = new Map<string, { at: number; inbox: VoiceInbox }>();
  private baseUrl: string;
  /** Call starts and IVR turns, written in batches (on PostgreSQL two in flight, as inbound messages). */
  private readonly batch: CallBatch;

  constructor(private readonly rt: Runtime) {
    this.baseUrl = rt.config.publicUrl ?? `http://localhost:${rt.config.port}`;
    this.batch = new CallBatch(rt.core, rt.database.driver === "postgres" ? 2 : 1);
  }

  /** Batches of call writes committed, steps in them, and batches retried one by one (metrics). */
  get batchStats() {
    return this.batch.stats;
  }

  /** Where Twilio reaches this node (for the absolute URLs REST calls need). */
  setBaseUrl(url: string) {
    if (!this.rt.config.publicUrl) this.baseUrl = url.replace(/\/$/, "");
  }

  get publicBase() {
    return this.baseUrl;
  }

  /** A voice inbox with its opened credentials, reused for a few seconds (every webhook needs it). */
  async inbox(inboxId: string) {
    const cached = this.inboxes.get(inboxId);
    if (cached && Date.now() - cached.at < FLOW_CACHE_MS) return cached.inbox;
    const row = await voiceInboxRow(this.rt.core.db, inboxId);
    const inbox = row ? voiceInbox(row, this.rt.keyring, this.rt.config.twilioAuthToken) : undefined;
    if (inbox) this.inboxes.set(inboxId, { at: Date.now(), inbox });
    return inbox;
  }

  /** The voice inbox a number belongs to, reused like `inbox` (every incoming call looks it up). */
  async inboxByNumber(number: string) {
    const cached = this.numbers.get(number);
    if (cached && Date.now() - cached.at < FLOW_CACHE_MS) return cached.inbox;
    const row = await inboxByNumber(this.rt.core.db, number);
    // Unknown numbers are not remembered: a line added a moment ago answers at once.
    if (!row) return undefined;
    const inbox = voiceInbox(row, this.rt.keyring, this.rt.config.twilioAuthToken);
    this.numbers.set(number, { at: Date.now(), inbox });
    return inbox;
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
  private at(inbox: VoiceInbox, call: Pick<Call, "id">, path: string, extra = "") {
    return `${this.baseUrl}${WEBHOOKS}/${path}?inbox=${inbox.row.id}&call=${call.id}${extra}`;
  }

  rest(inbox: VoiceInbox) {
    if (!inbox.account)
      throw new Invalid("This voice inbox has no Twilio account (accountSid and authToken)", "inboxId");
    const base = inbox.account.apiBaseUrl;
    // A path (the demo's "/simulator/twilio") is this node's own built-in simulator.
    return new TwilioRest({ ...inbox.account, apiBaseUrl: base?.startsWith("/") ? `${this.baseUrl}${base}` : base });
  }

  // ── Webhooks ────────────────────────────────────────────────────────────────────────────────

  /**
   * A new call (or Twilio retrying the first webhook of one): start the IVR. Nothing is read first:
   * a retry fails on the call's unique key when it is written, and is then answered from the call.
   */
  async incoming(inbox: VoiceInbox, p: { CallSid: string; From: string; To: string; CallerName?: string }) {
    const flow = await this.flow(inbox.row.id);
    const id = crypto.randomUUID();
    const turn = await this.compute(inbox, { id, fromAddress: p.From, toAddress: p.To }, flow, startState(flow), null);
    const start = {
      provider: "twilio" as const,
      inboxId: inbox.row.id,
      externalId: p.CallSid,
      direction: "in" as const,
      customer: { kind: "phone" as const, value: p.From, ...(p.CallerName ? { displayName: p.CallerName } : {}) },
      from: p.From,
      to: p.To,
      id,
    };
    const begun = {
      ...start,
      status: turn.status,
      ivr: { ...turn.next, reply: turn.reply },
      callbackNumber: turn.callbackNumber,
      queueId: turn.enqueue?.queueId ?? null,
      enqueuedAt: turn.enqueue ? new Date() : null,
      events: turnEvents(turn),
    };
    const checks = { inboxOfWorkspace: true, skipLookup: true };
    try {
      if (!turn.enqueue) {
        // Most calls begin in the IVR: their start joins the next batch of call writes.
        const started = await this.batch.start(inbox.row.workspaceId, begun);
        return this.answer(inbox, started.call, turn, undefined);
      }
      // A flow that queues at once: the call, its first IVR answer and its work in one transaction.
      let eta: Eta;
      const started = await startCall(
        this.rt.core,
        inbox.row.workspaceId,
        begun,
        async (tx, events, call) => void (eta = await this.enqueueTurn(tx, events, call, turn)),
        checks,
      );
      return this.answer(inbox, started.call, turn, eta);
    } catch (err) {
      // Twilio's retry of a call started meanwhile: the call's current step, as the first answer gave.
      const known = await findCall(this.rt.core.db, inbox.row.id, p.CallSid);
      if (known) return this.current(inbox, known);
      if (!turn.enqueue) throw err;
      // A queue deleted after the flow was saved: the call is still logged, the caller hears goodbye.
      log.error("voice: enqueue failed", { err });
      await startCall(this.rt.core, inbox.row.workspaceId, { ...start, status: "failed" });
      return apologyTwiml(turn.language);
    }
  }

  /**
   * A chatting visitor's browser calls through the chat's phone line (call-line.ts): no IVR — the
   * chat already said what it is about — straight into the line's queue, in the chat's conversation.
   */
  async widgetIncoming(
    inbox: VoiceInbox,
    p: { CallSid: string; From: string; To: string },
    conversationId: string | undefined,
  ) {
    const known = await findCall(this.rt.core.db, inbox.row.id, p.CallSid);
    if (known) return this.current(inbox, known);
    const contactId = visitorOfCaller(p.From);
    const target = contactId && (await widgetCallTarget(this.rt.core.db, inbox, contactId, conversationId));
    if (!target) {
      log.warn("voice: a widget call for a chat it cannot continue", { conversationId });
      return apologyTwiml(inbox.language);
    }
    let eta: Eta;
    const started = await startCall(
      this.rt.core,
      inbox.row.workspaceId,
      {
        provider: "twilio",
        inboxId: inbox.row.id,
        externalId: p.CallSid,
        direction: "in",
        customer: { kind: "visitor", value: contactId },
        conversationId: target.conversationId,
        status: "queued",
        from: p.From,
        to: p.To,
        queueId: target.queueId,
        enqueuedAt: new Date(),
      },
      async (tx, events) =>
        void (eta = (await enqueueCallWithin(tx, events, target.conversationId, { queueId: target.queueId })).eta),
      // Looked up just above; a racing retry still fails on the call item's unique key.
      { inboxOfWorkspace: true, skipLookup: true },
    );
    this.rt.router.schedule(inbox.row.workspaceId);
    return this.waitTwiml(inbox, started.call, recordingNotice(inbox, inbox.language), eta);
  }

  /** The caller answered a gather. A retry of an answered step gets the same reply again. */
  async gather(inbox: VoiceInbox, call: Call, step: number, input: IvrInput) {
    if (call.status !== "ivr" || !call.ivr || call.ivr.step !== step) return this.current(inbox, call);
    const turn = await this.compute(inbox, call, await this.flow(inbox.row.id), call.ivr, input);
    let saved: { call: Call; eta: Eta } | undefined;
    try {
      // Saved with the batch's other turns, only if nobody answered this step meanwhile (a
      // concurrent retry): then theirs stands.
      saved = await this.batch.turn(call.workspaceId, {
        call,
        step,
        change: { ivr: { ...turn.next, reply: turn.reply }, status: turn.status, callbackNumber: turn.callbackNumber },
        enqueue: turn.enqueue
          ? {
              queueId: turn.enqueue.queueId,
              priority: turn.next.priority,
              skills: turn.next.skills,
              attributes: turn.next.attributes,
            }
          : undefined,
        events: turnEvents(turn),
        at: new Date(),
      });
    } catch (err) {
      if (!turn.enqueue) throw err;
      log.error("voice: enqueue failed", { callId: call.id, err });
      await changeCall(this.rt.core, call.id, { status: "failed" });
      return apologyTwiml(turn.language);
    }
    if (!saved) return this.current(inbox, await callById(this.rt.core.db, call.workspaceId, call.id));
    return this.answer(inbox, saved.call, turn, saved.eta);
  }

  /** What Twilio should do with this call now, from its stored state (retries, unknown steps). */
  async current(inbox: VoiceInbox, call: Call): Promise<string> {
    const language = call.ivr?.language ?? inbox.language;
    if (call.status === "ivr" && call.ivr?.reply) return call.ivr.reply;
    if (call.status === "queued") return this.waitTwiml(inbox, call);
    if (call.status === "connecting" || call.status === "connected" || call.status === "on_hold")
      return this.customerConference(inbox, call);
    if (call.status === "callback") return sayTwiml(language, [phrases(language).callbackConfirmed]);
    return apologyTwiml(language);
  }

  /** The flow of an inbox, read at most every few seconds per node: every webhook of a call needs it. */
  private async flow(inboxId: string) {
    const cached = this.flows.get(inboxId);
    if (cached && Date.now() - cached.at < FLOW_CACHE_MS) return cached.flow;
    const flow = await flowOf(this.rt.core.db, inboxId);
    this.flows.set(inboxId, { at: Date.now(), flow });
    return flow;
  }

  /** A saved flow applies at once on this node (others pick it up within FLOW_CACHE_MS). */
  forgetFlow(inboxId: string) {
    this.flows.delete(inboxId);
  }

  /** Runs the IVR one turn and decides what it means for the call, before anything is written. */
  private async compute(
    inbox: VoiceInbox,
    call: Pick<Call, "id" | "fromAddress" | "toAddress">,
    flow: IvrFlow,
    state: IvrState,
    input: IvrInput | null,
  ): Promise<Turn> {
    const { state: next, step } = await runIvr(flow, state, input, {
      now: new Date(),
      from: call.fromAddress ?? "",
      to: call.toAddress ?? "",
      isOpen: (hours, now) => isOpen({ ...hours, holidays: hours.holidays ?? [] }, now),
      lookup: (url, timeoutMs, query) => lookupJson(url, timeoutMs, query, this.rt.config.outboundAllowHosts),
    });
    const language = next.language;
    const urls = this.urls(inbox, call);
    const base = {
      next,
      step,
      language,
      newPath: next.path.slice(state.path.length),
      callbackNumber: null as string | null,
      enqueue: undefined as { queueId: string } | undefined,
    };
    switch (step.kind) {
      case "enqueue":
        return { ...base, status: "queued", reply: "", enqueue: { queueId: step.node.queueId } };
      case "callback":
        return {
          ...base,
          status: "callback",
          callbackNumber: call.fromAddress,
          enqueue: { queueId: step.node.queueId },
          reply: ivrTwiml(step, language, urls, next.step),
        };
      case "transfer":
        return {
          ...base,
          status: "transferred_out",
          reply: ivrTwiml(step, language, urls, next.step, inbox.settings.phoneNumber),
        };
      default:
        return { ...base, status: "ivr", reply: ivrTwiml(step, language, urls, next.step) };
    }
  }

  /** A new call's queue entry, when its flow reaches an enqueue (or callback) node at once. */
  private async enqueueTurn(tx: Tx, events: EventLog, call: Call, turn: Turn): Promise<Eta> {
    if (!turn.enqueue) return undefined;
    const { eta } = await enqueueCallWithin(tx, events, call.conversationId, {
      queueId: turn.enqueue.queueId,
      priority: turn.next.priority,
      skills: turn.next.skills,
      attributes: turn.next.attributes,
    });
    return eta;
  }

  /** The TwiML for a saved turn: the IVR's own answer, or the first round of waiting. */
  private async answer(inbox: VoiceInbox, call: Call, turn: Turn, eta: Eta) {
    if (turn.enqueue) this.rt.router.schedule(call.workspaceId);
    if (turn.step.kind !== "enqueue") return turn.reply;
    return this.waitTwiml(inbox, call, [...turn.step.prompts, ...recordingNotice(inbox, turn.language)], eta);
  }

  /** One round of waiting music with the caller's position and estimated wait. */
  async waitTwiml(inbox: VoiceInbox, call: Call, prompts: IvrStep["prompts"] = [], known?: Eta) {
    const language = call.ivr?.language ?? inbox.language;
    const eta = known ?? (await queuePosition(this.rt.core.db, call.conversationId));
    const flow = await this.flow(inbox.row.id);
    const node = Object.values(flow.nodes).find((n) => n.type === "enqueue" && n.queueId === call.queueId) as
      | Extract<IvrFlow["nodes"][string], { type: "enqueue" }>
      | undefined;
    return waitTwiml({
      language,
      prompts,
      position: eta?.position ?? null,
      waitMinutes: eta?.estimatedWaitS != null ? Math.ceil(eta.estimatedWaitS / 60) : null,
      // A browser caller (client:…) has no number to call back.
      offerCallback: (node?.offerCallback ?? true) && !fromBrowser(call.fromAddress),
      musicUrl: node?.holdMusicUrl,
      urls: this.urls(inbox, call),
    });
  }

  /** A key pressed while waiting: 1 asks for a callback (the place in line is kept). */
  async waitKey(inbox: VoiceInbox, call: Call, digits: string | undefined) {
    const language = call.ivr?.language ?? inbox.language;
    if (call.status !== "queued" || digits !== "1" || fromBrowser(call.fromAddress)) return this.current(inbox, call);
    await withEvents(this.rt.core, async (tx, events) => {
      const { before, after } = await changeCallWithin(tx, events, call.id, (c) =>
        c.status === "queued" ? { status: "callback", callbackNumber: c.fromAddress } : null,
      );
      if (after !== before)
        await appendSystemEvent(tx, events, call.conversationId, "callback_requested", {
          callId: call.id,
          number: call.fromAddress,
        });
    });
    return sayTwiml(language, [phrases(language).callbackConfirmed]);
  }

  customerConference(inbox: VoiceInbox, call: Call) {
    const language = call.ivr?.language ?? inbox.language;
    return conferenceTwiml({
      name: conferenceName(call),
      language,
      announce: [phrases(language).connecting],
      endOnExit: true,
      // The customer waits with music until the agent's leg starts the conference.
      record: inbox.settings.recording === "always",
      urls: this.urls(inbox, call),
    });
  }

  agentConference(inbox: VoiceInbox, call: Call, monitor?: { mode: "listen" | "whisper" | "barge" }) {
    return conferenceTwiml({
      name: conferenceName(call),
      language: inbox.language,
      endOnExit: false,
      record: false,
      muted: monitor?.mode === "listen",
      coach: monitor?.mode === "whisper" ? (call.agentLegId ?? undefined) : undefined,
      urls: this.urls(inbox, call),
    });
  }

  /** Twilio's status callback for one of the call's legs. */
  async status(
    inbox: VoiceInbox,
    call: Call,
    leg: "customer" | "callee" | "agent" | "consult" | "monitor",
    p: StatusCallback,
    agentId?: string,
  ) {
    if (leg === "customer") return this.customerLegStatus(inbox, call, p);
    // A leg we dialled may report before the REST answer that named it was saved: the first report
    // for the expected party names it; reports for any other leg (one replaced since) are stale.
    if (leg === "callee") {
      const { after } = await changeCall(this.rt.core, call.id, (c) =>
        c.customerLegId ? null : { customerLegId: p.CallSid },
      );
      if (after.customerLegId === p.CallSid) return this.customerLegStatus(inbox, after, p);
      return;
    }
    if (leg === "agent" && agentId && call.agentId === agentId) {
      const { after } = await changeCall(this.rt.core, call.id, (c) =>
        c.agentLegId || c.agentId !== agentId ? null : { agentLegId: p.CallSid },
      );
      if (after.agentLegId === p.CallSid) return this.agentLegStatus(inbox, after, p);
      return;
    }
    if (leg === "consult" && call.consult?.agentId === agentId) return this.consultLegStatus(inbox, call, p);
    if (leg === "monitor" && ["completed", "failed", "no-answer", "busy", "canceled"].includes(p.CallStatus))
      await changeCall(this.rt.core, call.id, (c) => ({ monitors: c.monitors.filter((m) => m.legId !== p.CallSid) }));
  }

  private async customerLegStatus(inbox: VoiceInbox, call: Call, p: StatusCallback) {
    // A callback dials the customer anew: only that leg's callbacks count then.
    if (call.customerLegId && p.CallSid !== call.customerLegId) return;
    if (!call.customerLegId && p.CallSid !== call.externalId) return;
    if (p.CallStatus === "in-progress" && call.customerLegId && call.status === "connecting") {
      await changeCall(this.rt.core, call.id, { status: "connected", answeredAt: new Date() });
      return;
    }
    const next = customerStatus(p.CallStatus, call.status);
    if (!next) return;
    const { before, after } = await withEvents(this.rt.core, async (tx, events) => {
      const r = await changeCallWithin(tx, events, call.id, (c) =>
        isFinal(c.status) ? null : { status: customerStatus(p.CallStatus, c.status) ?? c.status },
      );
      if (r.after !== r.before && r.after.status === "abandoned")
        await appendSystemEvent(tx, events, call.conversationId, "call_abandoned", {
          callId: call.id,
          waitS: waitSeconds(r.after),
        });
      return r;
    });
    if (after === before) return;
    if (after.status === "abandoned") {
      await abandonCallWork(this.rt.core, call.conversationId);
      return;
    }
    if (before.status === "connected" || before.status === "on_hold" || before.status === "connecting") {
      await finishCallWork(this.rt.core, call.conversationId);
      // The customer hung up: the agent's softphone leg ends too.
      for (const leg of [before.agentLegId, before.consult?.legId, ...before.monitors.map((m) => m.legId)])
        if (leg) await this.quietly(() => this.rest(inbox).hangup(leg));
    }
  }

  private async agentLegStatus(inbox: VoiceInbox, call: Call, p: StatusCallback) {
    if (p.CallStatus === "in-progress") {
      if (call.status === "callback") {
        // Callback: the agent is on the line; now call the customer into the same conference. Claimed
        // first, so a repeated report never dials the customer twice.
        const claim = await changeCall(this.rt.core, call.id, (c) =>
          c.status === "callback" ? { status: "connecting" } : null,
        );
        if (claim.after === claim.before) return;
        const legId = await this.rest(inbox).dial({
          to: call.callbackNumber!,
          from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
          url: this.at(inbox, call, "connect"),
          statusCallback: this.at(inbox, call, "status", "&leg=callee"),
          timeoutS: 30,
        });
        await changeCall(this.rt.core, call.id, (c) => (c.customerLegId ? null : { customerLegId: legId }));
        return;
      }
      // For a callback, "connected" waits for the customer to answer (their leg reports it).
      if (call.status === "connecting" && !call.callbackNumber)
        await changeCall(this.rt.core, call.id, (c) =>
          c.status === "connecting" ? { status: "connected", answeredAt: new Date() } : null,
        );
      return;
    }
    if (!["completed", "failed", "no-answer", "busy", "canceled"].includes(p.CallStatus)) return;
    if (call.status === "connected" || call.status === "on_hold") {
      // The agent hung up: the call is over for the customer too (a transfer clears the leg first).
      await this.quietly(() => this.rest(inbox).hangup(call.customerLegId ?? call.externalId));
      return;
    }
    if (call.status === "connecting" || call.status === "callback") {
      // The agent's softphone did not answer: the caller goes back to the front of the queue.
      await withEvents(this.rt.core, async (tx, events) => {
        await changeCallWithin(tx, events, call.id, {
          status: call.callbackNumber ? "callback" : "queued",
          agentId: null,
          agentLegId: null,
        });
        await appendSystemEvent(tx, events, call.conversationId, "agent_leg_failed", {
          callId: call.id,
          agentId: call.agentId,
          status: p.CallStatus,
        });
      });
      await followAssignment(this.rt.core, call.conversationId, null);
      await this.reassign(call.conversationId, null);
      if (!call.callbackNumber)
        await this.quietly(() => this.rest(inbox).redirect(call.externalId, this.at(inbox, call, "wait")));
      this.rt.router.schedule(call.workspaceId);
    }
  }

  private async consultLegStatus(inbox: VoiceInbox, call: Call, p: StatusCallback) {
    if (p.CallStatus === "in-progress") return;
    if (["completed", "failed", "no-answer", "busy", "canceled"].includes(p.CallStatus))
      await withEvents(this.rt.core, async (tx, events) => {
        await changeCallWithin(tx, events, call.id, { consult: null });
        await appendSystemEvent(tx, events, call.conversationId, "consult_ended", {
          callId: call.id,
          agentId: call.consult?.agentId ?? null,
        });
      });
  }

  /** Conference events: its id (for hold and monitoring) and the customer's hold state. */
  async conference(call: Call, p: { ConferenceSid: string; StatusCallbackEvent: string; CallSid?: string }) {
    const customerLeg = call.customerLegId ?? call.externalId;
    const change: Parameters<typeof changeCall>[2] = {};
    if (!call.conferenceSid) Object.assign(change, { conferenceSid: p.ConferenceSid });
    if (p.CallSid === customerLeg && p.StatusCallbackEvent === "participant-hold")
      Object.assign(change, { hold: true });
    if (p.CallSid === customerLeg && p.StatusCallbackEvent === "participant-unhold")
      Object.assign(change, { hold: false });
    if (Object.keys(change).length) await changeCall(this.rt.core, call.id, change);
  }

  /** A recording is ready at Twilio: fetch it, store it sealed, and delete Twilio's copy. */
  async recording(inbox: VoiceInbox, call: Call, p: { RecordingSid: string; RecordingStatus?: string }) {
    if (p.RecordingStatus && p.RecordingStatus !== "completed") return;
    if (call.recordingSid === p.RecordingSid && call.recordingId) return;
    await changeCall(this.rt.core, call.id, { recordingSid: p.RecordingSid });
    await storeRecording(this.rt, this, inbox, { ...call, recordingSid: p.RecordingSid });
  }

  async voicemail(inbox: VoiceInbox, call: Call) {
    const language = call.ivr?.language ?? inbox.language;
    await withEvents(this.rt.core, async (tx, events) => {
      const { before, after } = await changeCallWithin(tx, events, call.id, (c) =>
        c.status === "ivr" ? { status: "voicemail" } : null,
      );
      if (after !== before) await appendSystemEvent(tx, events, call.conversationId, "voicemail", { callId: call.id });
    });
    return sayTwiml(language, [phrases(language).voicemailThanks]);
  }

  async transcription(call: Call, text: string | undefined) {
    if (text) await changeCall(this.rt.core, call.id, { transcript: text });
  }

  // ── Agents' actions ─────────────────────────────────────────────────────────────────────────

  start() {
    this.unsubscribe = this.rt.core.bus.subscribe((m) => {
      if (!("type" in m) || m.type !== "conversation.updated" || !m.conversationId) return;
      const changes = m.payload.changes as { assigneeId?: string | null } | undefined;
      if (!changes?.assigneeId) return;
      void this.connectWaitingCall(m.conversationId, changes.assigneeId).catch((err: unknown) =>
        log.error("voice: connecting the agent failed", { err, conversationId: m.conversationId }),
      );
    });
  }

  stop() {
    this.unsubscribe?.();
  }

  /**
   * The conversation of a waiting call was assigned (offer accepted, auto-accept, a supervisor's
   * move): ring the agent's softphone and bring the caller into the call's conference.
   */
  async connectWaitingCall(conversationId: string, agentId: string) {
    const [call] = await this.rt.core.db
      .select()
      .from(calls)
      .where(
        and(
          eq(calls.conversationId, conversationId),
          eq(calls.provider, "twilio"),
          inArray(calls.status, ["queued", "callback"]),
        ),
      );
    if (!call) return;
    const inbox = (await this.inbox(call.inboxId))!;
    const rest = this.rest(inbox);
    // Every node hears the assignment: the one whose claim lands dials, the others see it taken.
    const claimed = await changeCall(this.rt.core, call.id, (c) =>
      c.status === "queued"
        ? { status: "connecting", agentId }
        : c.status === "callback" && c.agentId !== agentId
          ? { agentId }
          : null,
    );
    if (claimed.after === claimed.before) return;
    const legId = await rest.dial({
      to: `client:${clientIdentity(agentId)}`,
      from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
      url: this.at(inbox, call, "agent"),
      statusCallback: this.at(inbox, call, "status", `&leg=agent&agent=${agentId}`),
    });
    await changeCall(this.rt.core, call.id, (c) => (c.agentLegId ? null : { agentLegId: legId }));
    // A caller on the line joins now (hearing music until the agent's leg starts the conference);
    // a callback waits for the agent to answer first.
    if (call.status === "queued") await rest.redirect(call.externalId, this.at(inbox, call, "connect"));
  }

  private async liveCall(workspaceId: string, callId: string) {
    const call = await callById(this.rt.core.db, workspaceId, callId);
    if (isFinal(call.status)) throw new Conflict("The call has ended", "callId");
    const inbox = await this.inbox(call.inboxId);
    if (!inbox) throw new Invalid("Only phone calls support this", "callId");
    return { call, inbox };
  }

  async hold(workspaceId: string, callId: string, hold: boolean) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (!call.conferenceSid || (call.status !== "connected" && call.status !== "on_hold"))
      throw new Conflict("The call is not connected", "callId");
    await this.rest(inbox).hold(call.conferenceSid, call.customerLegId ?? call.externalId, hold);
    return (await changeCall(this.rt.core, call.id, { hold })).after;
  }

  async mute(workspaceId: string, callId: string, muted: boolean) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (!call.conferenceSid || !call.agentLegId) throw new Conflict("The call is not connected", "callId");
    await this.rest(inbox).mute(call.conferenceSid, call.agentLegId, muted);
    return call;
  }

  async hangup(workspaceId: string, callId: string) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    await this.rest(inbox).hangup(call.customerLegId ?? call.externalId);
    return call;
  }

  /** Starts recording an on-demand call (the policy "never" refuses). */
  async record(workspaceId: string, callId: string) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (inbox.settings.recording === "never") throw new Conflict("Recording is turned off for this inbox", "callId");
    if (call.status !== "connected" && call.status !== "on_hold")
      throw new Conflict("The call is not connected", "callId");
    await this.rest(inbox).startRecording(call.customerLegId ?? call.externalId, this.at(inbox, call, "recording"));
    await withEvents(this.rt.core, (tx, events) =>
      appendSystemEvent(tx, events, call.conversationId, "recording_started", { callId: call.id }),
    );
    return call;
  }

  /** A supervisor joins a live call: listening (muted), whispering to the agent, or barging in. */
  async monitor(workspaceId: string, callId: string, supervisorId: string, mode: "listen" | "whisper" | "barge") {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (call.status !== "connected" && call.status !== "on_hold")
      throw new Conflict("The call is not connected", "callId");
    const rest = this.rest(inbox);
    const existing = call.monitors.find((m) => m.userId === supervisorId);
    if (existing) {
      if (!call.conferenceSid) throw new Conflict("The call is not connected", "callId");
      await rest.monitorMode(call.conferenceSid, existing.legId, mode, call.agentLegId);
      return (
        await changeCall(this.rt.core, call.id, (c) => ({
          monitors: c.monitors.map((m) => (m.userId === supervisorId ? { ...m, mode } : m)),
        }))
      ).after;
    }
    const legId = await rest.dial({
      to: `client:${clientIdentity(supervisorId)}`,
      from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
      url: this.at(inbox, call, "monitor", `&mode=${mode}`),
      statusCallback: this.at(inbox, call, "status", "&leg=monitor"),
    });
    return withEvents(this.rt.core, async (tx, events) => {
      const { after } = await changeCallWithin(tx, events, call.id, (c) => ({
        monitors: [...c.monitors, { userId: supervisorId, legId, mode }],
      }));
      await appendSystemEvent(tx, events, call.conversationId, "call_monitored", {
        callId: call.id,
        supervisorId,
        mode,
      });
      return after;
    });
  }

  /** A supervisor leaves a phone call they were monitoring: their leg hangs up. */
  async stopMonitor(workspaceId: string, callId: string, supervisorId: string) {
    const call = await callById(this.rt.core.db, workspaceId, callId);
    const mine = call.monitors.find((m) => m.userId === supervisorId);
    if (!mine) return call;
    const inbox = await this.inbox(call.inboxId);
    if (inbox && !isFinal(call.status)) await this.quietly(() => this.rest(inbox).hangup(mine.legId));
    return (
      await changeCall(this.rt.core, call.id, (c) => ({
        monitors: c.monitors.filter((m) => m.userId !== supervisorId),
      }))
    ).after;
  }

  /**
   * Transfers a connected call. Cold: the agent's leg ends and the caller waits for the target (an
   * offer to an agent or team member, or the queue). Warm: the target is dialled into the same
   * conference while the agent stays, and takes over when the agent leaves.
   */
  async transfer(
    workspaceId: string,
    callId: string,
    by: { userId: string; name: string },
    target: { agentId?: string; queueId?: string; teamId?: string },
    warm: boolean,
    note?: string,
  ) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (call.status !== "connected" && call.status !== "on_hold")
      throw new Conflict("The call is not connected", "callId");
    const rest = this.rest(inbox);
    let agentId = target.agentId;
    if (target.teamId) agentId = await this.freeTeamMember(workspaceId, target.teamId);
    // Everything the transfer names is checked before any leg moves: a bad target must never leave
    // the caller on hold with neither an agent nor a queue (404/409 naming the field instead).
    if (agentId) await transferTarget(this.rt.core.db, workspaceId, agentId, true);
    if (warm) {
      if (!agentId) throw new Invalid("A warm transfer goes to an agent or a team", "agentId");
      const legId = await rest.dial({
        to: `client:${clientIdentity(agentId)}`,
        from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
        url: this.at(inbox, call, "agent"),
        statusCallback: this.at(inbox, call, "status", `&leg=consult&agent=${agentId}`),
      });
      return withEvents(this.rt.core, async (tx, events) => {
        const { after } = await changeCallWithin(tx, events, call.id, { consult: { agentId: agentId!, legId } });
        await appendSystemEvent(tx, events, call.conversationId, "transferred", {
          callId: call.id,
          agentId,
          warm: true,
          note: note ?? null,
          by: by.name,
        });
        return after;
      });
    }
    if (!agentId && !target.queueId) throw new Invalid("Transfer to an agent, a team or a queue", "agentId");
    const queueId = agentId
      ? (call.queueId ?? target.queueId ?? (await this.anyVoiceQueue(workspaceId)))
      : target.queueId!;
    await this.voiceQueue(workspaceId, queueId);
    // Cold: the caller goes back to waiting music before the agent's leg is dropped, so hanging up
    // that leg cannot end the call.
    await withEvents(this.rt.core, (tx, events) =>
      changeCallWithin(tx, events, call.id, { status: "queued", agentId: null, agentLegId: null, hold: false }),
    );
    await rest.redirect(call.customerLegId ?? call.externalId, this.at(inbox, call, "wait"));
    if (call.agentLegId) await this.quietly(() => rest.hangup(call.agentLegId!));
    await finishCallWork(this.rt.core, call.conversationId);
    const actor = { workspaceId, userId: by.userId, name: by.name, role: "supervisor" as const };
    await this.reassign(call.conversationId, null);
    await enqueueCall(this.rt.core, call.conversationId, { queueId }, new Date(), NOT_STICKY);
    if (agentId) await transferToAgent(this.rt.core, actor as never, call.conversationId, agentId, note);
    else
      await withEvents(this.rt.core, (tx, events) =>
        appendSystemEvent(tx, events, call.conversationId, "transferred", {
          callId: call.id,
          queueId,
          note: note ?? null,
          by: by.name,
        }),
      );
    this.rt.router.schedule(workspaceId);
    return callById(this.rt.core.db, workspaceId, call.id);
  }

  /** The warm transfer's second agent takes over: the first agent's leg is dropped. */
  async completeWarmTransfer(workspaceId: string, callId: string) {
    const { call, inbox } = await this.liveCall(workspaceId, callId);
    if (!call.consult) throw new Conflict("No warm transfer is in progress", "callId");
    const previous = call.agentLegId;
    const consult = call.consult;
    await withEvents(this.rt.core, async (tx, events) => {
      await changeCallWithin(tx, events, call.id, {
        agentId: consult.agentId,
        agentLegId: consult.legId,
        consult: null,
      });
    });
    await followAssignment(this.rt.core, call.conversationId, consult.agentId);
    await this.reassign(call.conversationId, consult.agentId);
    if (previous) await this.quietly(() => this.rest(inbox).hangup(previous));
    return callById(this.rt.core.db, workspaceId, call.id);
  }

  private async freeTeamMember(workspaceId: string, teamId: string): Promise<string> {
    const [team] = await listTeams(this.rt.core.db, workspaceId, teamId);
    if (!team) throw new Invalid("Unknown team", "teamId");
    const states = await presenceOf(
      this.rt.core.db,
      workspaceId,
      team.members.map((m) => m.id),
    );
    const free = team.members
      .map((m) => states.get(m.id)!)
      .filter((s) => s.presence === "available")
      .sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime());
    if (!free[0]) throw new Conflict("Nobody in this team is available", "teamId");
    return free[0].userId;
  }

  /** A queue of the workspace that takes calls, or 404 naming `queueId`. */
  private async voiceQueue(workspaceId: string, queueId: string) {
    const [q] = await this.rt.core.db
      .select()
      .from(queues)
      .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, queueId)));
    if (!q || (q.channels.length && !q.channels.includes("voice"))) throw new NotFound("Queue", "queueId");
    return q;
  }

  private async anyVoiceQueue(workspaceId: string): Promise<string> {
    const all = await listQueues(this.rt.core.db, workspaceId);
    const q = all.find((x) => !x.channels.length || x.channels.includes("voice"));
    if (!q) throw new Invalid("No queue takes calls", "queueId");
    return q.id;
  }

  /** Click-to-call: the agent's softphone rings first, then the customer, from the inbox's number. */
  async dialOut(
    workspaceId: string,
    agent: { userId: string },
    input: { conversationId?: string; inboxId: string; number: string; name?: string },
  ) {
    const inbox = await this.inbox(input.inboxId);
    if (!inbox || inbox.row.workspaceId !== workspaceId) throw new Invalid("Unknown voice inbox", "inboxId");
    const rest = this.rest(inbox);
    const started = await startCall(this.rt.core, workspaceId, {
      provider: "twilio",
      inboxId: inbox.row.id,
      externalId: `out-${crypto.randomUUID()}`,
      direction: "out",
      customer: { kind: "phone", value: input.number, ...(input.name ? { displayName: input.name } : {}) },
      from: inbox.settings.phoneNumber ?? null,
      to: input.number,
      conversationId: input.conversationId,
      agentId: agent.userId,
      status: "callback",
      callbackNumber: input.number,
    });
    const call = started.call;
    const legId = await rest.dial({
      to: `client:${clientIdentity(agent.userId)}`,
      from: inbox.settings.phoneNumber ?? "",
      url: this.at(inbox, call, "agent"),
      statusCallback: this.at(inbox, call, "status", `&leg=agent&agent=${agent.userId}`),
    });
    return (await changeCall(this.rt.core, call.id, (c) => (c.agentLegId ? null : { agentLegId: legId }))).after;
  }

  /** Calls whose recording is known at Twilio but not yet stored with us (a crash, an outage). */
  async retryRecordings() {
    const due = await recordingsToFetch(this.rt.core.db);
    for (const call of due) {
      const inbox = await this.inbox(call.inboxId);
      if (inbox) await this.quietly(() => storeRecording(this.rt, this, inbox, call));
    }
  }

  /** The conversation follows the call's agent, with its timeline event, so every inbox sees it. */
  private reassign(conversationId: string, agentId: string | null) {
    return withEvents(this.rt.core, (tx, events) => assignWithin(tx, events, "system", conversationId, agentId));
  }

  private async quietly(work: () => Promise<unknown>) {
    try {
      await work();
    } catch (err) {
      log.warn("voice: Twilio request failed", { err: err instanceof Error ? err.message : String(err) });
    }
  }
}

/** Said before the waiting music when the inbox records every call. */
function recordingNotice(inbox: VoiceInbox, language: IvrLanguage) {
  return inbox.settings.recording === "always" ? [{ say: phrases(language).recording, language }] : [];
}

/** The timeline events one IVR turn adds to its call: the nodes it went through, a transfer out. */
function turnEvents(turn: Turn) {
  return [
    ...(turn.newPath.length ? [{ eventType: "ivr", data: { steps: turn.newPath } }] : []),
    ...(turn.step.kind === "transfer"
      ? [{ eventType: "call_transferred_out", data: { number: turn.step.node.number } }]
      : []),
  ];
}

function waitSeconds(call: Call) {
  return call.enqueuedAt && call.endedAt ? Math.round((call.endedAt.getTime() - call.enqueuedAt.getTime()) / 1000) : 0;
}

/**
 * The IVR's HTTP lookup: GET with the caller's number and attributes, JSON back, within the timeout.
 * The URL is an admin's, but the request leaves from the server: the outbound policy keeps it off
 * loopback, private and metadata addresses unless OUTBOUND_ALLOW_HOSTS lists the host.
 */
export async function lookupJson(url: string, timeoutMs: number, query: Record<string, string>, allowHosts: string[]) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  const res = await fetchOutbound(
    u,
    { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } },
    { allowHosts },
  );
  if (!res.ok) throw new Error(`lookup answered ${res.status}`);
  return (await res.json()) as unknown;
}
