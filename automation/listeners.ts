import type { BusMessage, EventBus } from "../conversations/bus.ts";
import type { DomainEvent } from "../conversations/event.ts";
import type { Core } from "../conversations/transaction.ts";
import { log } from "../platform/log.ts";
import { AutomationEngine, causeOf, type Cause } from "./engine.ts";
import { idleSweep } from "./idle-sweep.ts";
import { conversationFacts, lastCustomerText, ticketFacts } from "./subject.ts";
import type { RuleEvent } from "./rule.ts";

const RULES_CHANGED = "automation.rules_changed";

type Trigger = { event: RuleEvent; conversationId: string | null; ticketId: string | null; text?: string | null };

/** The rule events a domain event stands for (none, one, or two: an update that resolved). */
export function triggersOf(e: DomainEvent): Trigger[] {
  const p = e.payload;
  const conversation = { conversationId: e.conversationId, ticketId: null };
  switch (e.type) {
    case "conversation.created":
      return e.conversationId ? [{ event: "conversation.created", ...conversation }] : [];
    case "conversation.updated": {
      if (!e.conversationId) return [];
      const changes = (p.changes ?? {}) as { to?: unknown; status?: unknown };
      const out: Trigger[] = [{ event: "conversation.updated", ...conversation }];
      if (changes.to === "resolved" || changes.status === "resolved")
        out.push({ event: "conversation.resolved", ...conversation });
      return out;
    }
    case "item.created": {
      const item = p.item as { type?: string; direction?: string; sender?: { type?: string }; text?: string | null };
      if (!e.conversationId || item?.type !== "message" || item.direction !== "in") return [];
      if (item.sender?.type !== "contact") return [];
      return [{ event: "message.created", ...conversation, text: item.text ?? null }];
    }
    case "ticket.created":
    case "ticket.updated": {
      const ticketId = (p.ticketId as string | undefined) ?? null;
      return ticketId ? [{ event: e.type, conversationId: null, ticketId }] : [];
    }
    case "sla.warning":
    case "sla.breached":
      return [{ event: e.type, conversationId: e.conversationId, ticketId: (p.ticketId as string | null) ?? null }];
    case "csat.received":
      return e.conversationId ? [{ event: "csat.received", ...conversation }] : [];
    default:
      return [];
  }
}

/** Runs the rules of one trigger: the subject is the ticket when there is one, else the conversation. */
async function runTrigger(
  core: Core,
  engine: AutomationEngine,
  workspaceId: string,
  t: Trigger,
  eventKey: string,
  cause: Cause,
  seq?: number,
) {
  const load = async () => {
    if (t.ticketId) {
      const facts = await ticketFacts(core.db, t.ticketId);
      if (!facts) return undefined;
      const target = { workspaceId, ticketId: t.ticketId, conversationId: facts.ticket.conversationId };
      return { subject: facts.subject, target };
    }
    const conversationId = t.conversationId!;
    // conversation.created reads the first customer message; later events the message they are about,
    // else the latest one.
    const text =
      t.text !== undefined
        ? t.text
        : t.event === "conversation.created"
          ? undefined
          : await lastCustomerText(core.db, conversationId);
    const facts = await conversationFacts(core.db, conversationId, { text });
    return facts && { subject: facts.subject, target: { workspaceId, conversationId, ticketId: null } };
  };
  return engine.runFor(workspaceId, t.event, eventKey, load, cause, seq);
}

/** Runs the rules a committed domain event triggers; its workspace seq is the run's event key. */
export async function handleEvent(core: Core, engine: AutomationEngine, e: DomainEvent) {
  if (e.ephemeral) return 0;
  let ran = 0;
  for (const t of triggersOf(e))
    ran += await runTrigger(core, engine, e.workspaceId, t, String(e.seq), causeOf(e), e.seq);
  return ran;
}

/**
 * Listens on the bus (every node hears every event; the claim makes each rule run once). Events are
 * handled one after another per node, so one workspace's rules run in event order here.
 */
export function listenForRuleEvents(core: Core, bus: EventBus, engine: AutomationEngine) {
  let chain: Promise<unknown> = Promise.resolve();
  const unsubscribe = bus.subscribe((m: BusMessage) => {
    if ("type" in m && m.type === RULES_CHANGED) return engine.invalidate(m.workspaceId);
    if (!("type" in m) || !triggersOf(m).length) return;
    chain = chain.then(() =>
      handleEvent(core, engine, m).catch((err: unknown) => log.error("automation: event failed", { err, seq: m.seq })),
    );
  });
  return async () => {
    unsubscribe();
    await chain;
  };
}

/**
 * A node's automation: the engine, its bus listener and the idle sweep, started and stopped with the
 * runtime. Routes call `invalidate` after a rule changes.
 */
export class Automation {
  readonly engine: AutomationEngine;
  private stopListening: (() => Promise<void>) | undefined;
  private readonly sweep;

  constructor(
    private readonly core: Core,
    private readonly bus: EventBus,
    options: { sweepMs: number; onWebhook?: () => void; ttlMs?: number },
  ) {
    this.engine = new AutomationEngine(core, { onWebhook: options.onWebhook, ttlMs: options.ttlMs });
    this.sweep = idleSweep(core, this.engine, options.sweepMs);
  }

  start() {
    this.stopListening ??= listenForRuleEvents(this.core, this.bus, this.engine);
    this.sweep.start();
  }

  /**
   * A rule changed: this node forgets the workspace's rules at once, and tells the others over the bus
   * (a signal for no socket: addressed to nobody). A node that misses the signal sees the change when
   * its cache expires (5 s).
   */
  invalidate(workspaceId: string) {
    this.engine.invalidate(workspaceId);
    this.bus.publish([
      {
        workspaceId,
        seq: 0,
        type: RULES_CHANGED,
        conversationId: null,
        public: false,
        ephemeral: true,
        payload: { onlyFor: { userId: null } },
      },
    ]);
  }

  /** Runs the rules of one committed event (the listener's path; tests deliver an event again with it). */
  handle(e: DomainEvent) {
    return handleEvent(this.core, this.engine, e);
  }

  async stop() {
    await this.stopListening?.();
    this.stopListening = undefined;
    await this.sweep.stop();
  }
}
