import type { EventBus } from "../conversations/bus.ts";
import type { Core } from "../conversations/transaction.ts";
import { log } from "../platform/log.ts";
import type { DomainEvent } from "../conversations/event.ts";
import { liveQueues } from "./live.ts";
import { endWrapUps } from "./presence.ts";
import { resolvedButHeld, unqueuedConversations } from "./reconcile.ts";
import { expireOffers, routeWorkspace } from "./offer.ts";
import { announceWaits } from "./wait-notice.ts";
import {
  applyOverflow,
  DEFAULT_ROUTING,
  enqueueConversation,
  releaseFinishedWork,
  workspacesWaiting,
  workspacesWithWork,
  type RoutingSettings,
} from "./work.ts";

/**
 * How often the reconciliation runs, how long a conversation stays quiet before it counts as missed
 * (the event path queues it within milliseconds), and when one no rule took is asked again.
 */
export const RECONCILE = { everyMs: 10_000, graceMs: 10_000, recheckMs: 300_000 };

/**
 * The node's router: puts arriving conversations into queues, runs routing passes when work arrives or
 * capacity frees, and expires unanswered offers. Every node may run one: passes claim with SKIP
 * LOCKED, so routers never offer the same work twice (on PGlite there is one node and one router).
 */
export type LiveView = { watched(workspaceId: string): boolean; push(event: DomainEvent): void };

export class Router {
  private pending = new Set<string>();
  private running = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe: (() => void) | undefined;

  private lastLive = 0;
  private lastReconcile = 0;
  private ticking = false;
  /** Enqueues and ticks under way, which stop() waits for. */
  private inflight = 0;
  private stopped = false;
  /** Conversations the reconciliation found no queue for, and when to ask again. */
  private unroutable = new Map<string, number>();

  /**
   * `live` hands the periodic `queues.live` view (with threshold alerts) to this node's own sockets,
   * for the workspaces someone here is watching: every node computes it for its own supervisors, so
   * it never crosses nodes and costs nothing where nobody looks.
   */
  constructor(
    private readonly core: Core,
    private readonly bus: EventBus,
    private readonly live: LiveView = { watched: () => false, push: () => {} },
    private readonly settings: RoutingSettings = DEFAULT_ROUTING,
    private readonly tickMs = 1000,
    private readonly liveEveryMs = 2000,
    private readonly reconcile = RECONCILE,
  ) {}

  start() {
    this.stopped = false;
    this.unsubscribe = this.bus.subscribe((m) => {
      if (!("type" in m) || !m.conversationId) {
        if (!("type" in m) || m.type !== "agent.presence") return;
        // A signed-out agent's offers go back to the queue now, not when they time out.
        const signedOut = (m.payload.agent as { presence?: string } | undefined)?.presence === "offline";
        if (signedOut) this.run(() => this.expire());
        else this.schedule(m.workspaceId);
        return;
      }
      const changes = m.payload.changes as { to?: string; status?: string; call?: boolean } | undefined;
      // A call opened it: the IVR decides where (and whether) a caller waits, not the entry rules.
      const byCall = m.payload.call === true || changes?.call === true;
      if (byCall) return;
      const reopened = m.type === "conversation.updated" && (changes?.to === "open" || changes?.status === "open");
      if (m.type === "conversation.created" || reopened)
        this.run(async () => {
          const item = await enqueueConversation(this.core, m.conversationId!, this.settings, new Date(), reopened);
          if (item) this.schedule(item.workspaceId);
        });
      else if (m.type === "conversation.updated" && changes?.to === "resolved")
        this.run(async () => {
          const w = await releaseFinishedWork(this.core, m.conversationId!);
          if (w) this.schedule(w.workspaceId);
        });
    });
    // The safety net: offers that ran out, and work that a missed event or another node left waiting.
    this.timer = setInterval(() => {
      // A slow tick (a busy database) is not overlapped by the next one.
      if (this.ticking) return;
      this.ticking = true;
      this.run(() => this.tick().finally(() => (this.ticking = false)));
    }, this.tickMs);
    this.timer.unref?.();
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    // A tick or an enqueue still under way would otherwise go on (and schedule passes) after the
    // database closes; on PostgreSQL a transaction cut off there holds the pool's end for seconds.
    while (this.inflight || this.running.size || this.pending.size) await Bun.sleep(5);
  }

  private async expire() {
    for (const ws of await expireOffers(this.core)) this.schedule(ws);
  }

  private async tick() {
    await this.expire();
    for (const ws of await applyOverflow(this.core)) this.schedule(ws);
    await announceWaits(this.core);
    for (const ws of await endWrapUps(this.core)) this.schedule(ws);
    for (const ws of await workspacesWaiting(this.core)) this.schedule(ws);
    if (Date.now() - this.lastReconcile >= this.reconcile.everyMs) {
      this.lastReconcile = Date.now();
      await this.reconcileNow();
    }
    if (Date.now() - this.lastLive >= this.liveEveryMs) {
      this.lastLive = Date.now();
      for (const workspaceId of await workspacesWithWork(this.core)) {
        if (!this.live.watched(workspaceId)) continue;
        const queues = await liveQueues(this.core.db, workspaceId);
        this.live.push({
          workspaceId,
          seq: 0,
          type: "queues.live",
          conversationId: null,
          public: false,
          ephemeral: true,
          payload: { queues },
        });
      }
    }
  }

  /**
   * Repairs what a missed event left (routing/reconcile.ts): resolved work still live is finished
   * and its agent released; open conversations without a queue entry are queued. Ones no entry rule
   * takes are not asked again for a while (this node's memory only spares work: any node may ask).
   */
  async reconcileNow(now = new Date()) {
    for (const conversationId of await resolvedButHeld(this.core.db)) {
      const w = await releaseFinishedWork(this.core, conversationId, now);
      if (w) this.schedule(w.workspaceId);
    }
    for (const [id, until] of this.unroutable) if (until <= now.getTime()) this.unroutable.delete(id);
    const unqueued = await unqueuedConversations(
      this.core.db,
      this.reconcile.graceMs,
      [...this.unroutable.keys()],
      now,
    );
    for (const c of unqueued) {
      const item = await enqueueConversation(this.core, c.id, this.settings, now, true);
      if (item) this.schedule(item.workspaceId);
      else this.unroutable.set(c.id, now.getTime() + this.reconcile.recheckMs);
    }
  }

  /** One pass per workspace at a time on this node; a request during a pass runs right after it. */
  schedule(workspaceId: string) {
    if (this.stopped || this.pending.has(workspaceId)) return;
    this.pending.add(workspaceId);
    setImmediate(() => void this.pass(workspaceId));
  }

  private async pass(workspaceId: string) {
    if (this.running.has(workspaceId)) return setTimeout(() => void this.pass(workspaceId), 5);
    this.pending.delete(workspaceId);
    this.running.add(workspaceId);
    try {
      await routeWorkspace(this.core, workspaceId, this.settings);
    } catch (err) {
      log.error("router: pass failed", { workspaceId, err });
    } finally {
      this.running.delete(workspaceId);
    }
  }

  private run(work: () => Promise<unknown>) {
    this.inflight++;
    work()
      .catch((err: unknown) => log.error("router: failed", { err }))
      .finally(() => this.inflight--);
  }
}
