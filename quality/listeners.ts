import { and, desc, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import type { BusMessage, EventBus } from "../conversations/bus.ts";
import type { DomainEvent } from "../conversations/event.ts";
import type { Core } from "../conversations/transaction.ts";
import { conversationStatuses, conversations, qaScores, workspaces, type Call } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { TtlCache } from "../platform/ttl-cache.ts";
import { customerLineMayAlert, type ScorecardRule } from "./scorecard.ts";
import { asScorecardRule, workspaceRules } from "./scorecard-rules.ts";
import { scoreConversation } from "./scoring.ts";
import { callsToTranscribe, transcribeCall, type TranscriptionProvider } from "./transcription.ts";

/** Events after which a conversation's score may change: a message, a call's end, resolving it. */
export function rescores(e: DomainEvent): boolean {
  if (e.ephemeral || !e.conversationId) return false;
  const item = e.payload.item as { type?: string; data?: { endedAt?: string | null } } | undefined;
  if (e.type === "item.created") return item?.type === "message";
  if (e.type === "item.updated") return item?.type === "call" && !!item.data?.endedAt;
  if (e.type === "conversation.updated") {
    const changes = (e.payload.changes ?? {}) as { to?: unknown; status?: unknown };
    return changes.to === "resolved" || changes.status === "resolved";
  }
  return false;
}

/** A customer's message as it arrived (its text, for the alerting rules), or undefined for anything else. */
export function customerLine(e: DomainEvent): string | undefined {
  if (e.type !== "item.created") return undefined;
  const item = e.payload.item as { type?: string; direction?: string; senderType?: string; text?: string | null };
  return item?.type === "message" && item.direction === "in" && item.senderType === "contact"
    ? (item.text ?? "")
    : undefined;
}

// How long a node keeps a workspace's scorecard for the listener's check of customers' lines: a rule
// changed on another node applies to those checks within this long.
const RULES_TTL_MS = 5_000;

export type QualityOptions = {
  /** How long a conversation's events are gathered before it is scored once for all of them. */
  debounceMs: number;
  /** The pause between passes of the reconciling sweep (QA_SWEEP_MS). */
  sweepMs: number;
  provider?: TranscriptionProvider;
  /** A stored recording's audio (sealed in the attachment store; the runtime knows the key). */
  readRecording?: (storageKey: string) => Promise<Uint8Array>;
};

// The sweep looks back this far: older conversations were scored when they were active.
const SWEEP_WINDOW_MS = 86_400_000;
const SWEEP_BATCH = 100;

/**
 * A node's automatic QA: scores a conversation within a second or two of each message, call end or
 * resolution (debounced per conversation), and a sweep that scores what a lost bus message left
 * stale and transcribes recorded calls through the configured provider. Every node hears every event;
 * scoring is idempotent and serialized per conversation (scoring.ts), so the second node's pass
 * finds the score already stored and stops.
 */
export class QualityScoring {
  private pending = new Map<string, { seq: number; timer: ReturnType<typeof setTimeout> }>();
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = true;
  private readonly rules = new TtlCache<string, ScorecardRule[]>(RULES_TTL_MS, 1_000);

  constructor(
    private readonly core: Core,
    private readonly bus: EventBus,
    private readonly options: QualityOptions,
  ) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.bus.subscribe((m: BusMessage) => {
      if (!("type" in m) || !rescores(m)) return;
      const line = customerLine(m);
      if (line === undefined) this.schedule(m.conversationId!, m.seq);
      else void this.scheduleIfAlerting(m, line);
    });
    this.armSweep();
  }

  /**
   * A customer's line is scored at once only when it could raise an alert (customerLineMayAlert); the
   * score of a conversation only the customer wrote in since is brought up to date later (the agent's
   * next message, the sweep, or reading it).
   */
  private async scheduleIfAlerting(e: DomainEvent, text: string) {
    try {
      const rules = await this.rules.getOr(e.workspaceId, async () =>
        (await workspaceRules(this.core.db, e.workspaceId)).map(asScorecardRule),
      );
      if (!this.stopped && customerLineMayAlert(rules ?? [], text)) this.schedule(e.conversationId!, e.seq);
    } catch (err) {
      log.error("quality: could not read the scorecard", { err, workspaceId: e.workspaceId });
    }
  }

  /** Scores the conversation after the debounce; events meanwhile join the same pass. */
  schedule(conversationId: string, seq = 0) {
    const waiting = this.pending.get(conversationId);
    if (waiting) {
      waiting.seq = Math.max(waiting.seq, seq);
      return;
    }
    const timer = setTimeout(() => {
      const entry = this.pending.get(conversationId);
      this.pending.delete(conversationId);
      this.enqueue(conversationId, entry?.seq || undefined);
    }, this.options.debounceMs);
    this.pending.set(conversationId, { seq, timer });
  }

  /** Scoring runs one conversation at a time per node: QA is background work beside the inbox. */
  private enqueue(conversationId: string, afterSeq?: number) {
    const run = this.chain.then(() =>
      scoreConversation(this.core, conversationId, { afterSeq }).catch((err: unknown) =>
        log.error("quality: scoring failed", { err, conversationId }),
      ),
    );
    this.chain = run;
    return run;
  }

  private armSweep() {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweeping = this.sweep()
        .catch((err: unknown) => log.error("quality: sweep failed", { err }))
        .finally(() => this.armSweep());
    }, this.options.sweepMs);
    this.sweepTimer.unref?.();
  }

  /** One pass: transcribe what a provider can, then score conversations whose score is stale. */
  async sweep(now = new Date()) {
    const since = new Date(now.getTime() - SWEEP_WINDOW_MS);
    const { provider, readRecording } = this.options;
    if (provider && readRecording)
      for (const r of await callsToTranscribe(this.core.db, since)) {
        if (this.stopped) return;
        const done = await transcribeCall(
          this.core.db,
          provider,
          r.call as Call,
          () => readRecording(r.storageKey),
          r.contentType,
          null,
        );
        if (done) await this.enqueue(r.call.conversationId);
      }
    for (const w of await this.core.db.select({ id: workspaces.id }).from(workspaces)) {
      for (const c of await staleConversations(this.core.db, w.id, since)) {
        if (this.stopped) return;
        await this.enqueue(c.id);
      }
    }
  }

  async stop() {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.sweepTimer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await this.sweeping;
    await this.chain;
  }
}

/**
 * A workspace's conversations active since `since` whose score is missing or older than their last
 * activity, newest first. Per workspace and with every status named, so the list index
 * (workspace, status, last activity) serves it instead of a scan of every conversation.
 */
function staleConversations(db: Core["db"], workspaceId: string, since: Date) {
  return db
    .select({ id: conversations.id })
    .from(conversations)
    .leftJoin(qaScores, eq(qaScores.conversationId, conversations.id))
    .where(
      and(
        eq(conversations.workspaceId, workspaceId),
        inArray(conversations.status, [...conversationStatuses]),
        gt(conversations.lastActivityAt, since),
        or(isNull(qaScores.conversationId), lt(qaScores.scoredAt, conversations.lastActivityAt)),
      ),
    )
    .orderBy(desc(conversations.lastActivityAt))
    .limit(SWEEP_BATCH);
}
