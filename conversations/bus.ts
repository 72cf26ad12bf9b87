import type postgres from "postgres";
import { log } from "../platform/log.ts";
import type { DomainEvent } from "./event.ts";

/**
 * The one event bus. Events are published after their transaction commits. Delivery may be out of
 * order or repeated across nodes; the realtime feed (feed.ts) restores order by seq and fills gaps
 * from the events table, so the bus only has to be fast, not perfect.
 */
export type BusMessage =
  | DomainEvent
  /** "Something up to this seq was committed": the payload was too big for NOTIFY; load it. */
  | { workspaceId: string; seq: number; ref: true };

export interface EventBus {
  publish(events: DomainEvent[]): void;
  subscribe(handler: (message: BusMessage) => void): () => void;
  close(): Promise<void>;
}

/** One node: events go straight from the committing code to the subscribers. */
export class InProcessBus implements EventBus {
  protected handlers = new Set<(message: BusMessage) => void>();

  publish(events: DomainEvent[]) {
    for (const e of events) this.deliver(e);
  }

  protected deliver(message: BusMessage) {
    for (const h of this.handlers) h(message);
  }

  subscribe(handler: (message: BusMessage) => void) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  async close() {
    this.handlers.clear();
  }
}

const CHANNEL = "switchboard_events";
// NOTIFY payloads are limited to 8000 bytes; leave room for the envelope.
const MAX_NOTIFY = 7000;

type Envelope = { node: string; events: BusMessage[] };

/**
 * Many nodes on one PostgreSQL. A node hands its own events to its subscribers at once and tells the
 * other nodes with NOTIFY: a transaction's events go in as few notifications as fit, on a connection
 * of their own so they never queue behind the pool's transactions. An event too large for NOTIFY
 * travels as a reference the feed loads from the events table.
 */
export class PostgresBus extends InProcessBus {
  private readonly node = crypto.randomUUID();
  private listening: Promise<{ unlisten(): Promise<void> }>;
  private notifier: Promise<postgres.ReservedSql>;
  private onReconnect: (() => void) | undefined;

  constructor(pg: postgres.Sql) {
    super();
    this.notifier = pg.reserve();
    this.listening = pg.listen(
      CHANNEL,
      (payload) => this.receive(payload),
      // Called on first listen and after every reconnect: notifications sent while we were away are
      // lost, so the feed catches up from the events table.
      () => this.onReconnect?.(),
    );
  }

  async ready() {
    await Promise.all([this.listening, this.notifier]);
  }

  /** The feed registers its catch-up here. */
  setReconnectHandler(fn: () => void) {
    this.onReconnect = fn;
  }

  private receive(payload: string) {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      log.warn("bus: unreadable notification dropped");
      return;
    }
    if (envelope.node === this.node) return;
    for (const m of envelope.events) this.deliver(m);
  }

  override publish(events: DomainEvent[]) {
    super.publish(events);
    for (const payload of envelopes(this.node, events)) {
      void this.notifier
        .then((sql) => sql.notify(CHANNEL, payload))
        .catch((err: unknown) => log.warn("bus: notify failed", { err }));
    }
  }

  override async close() {
    await super.close();
    await (await this.listening).unlisten().catch(() => {});
    (await this.notifier).release();
  }
}

/** Packs events into as few NOTIFY payloads as fit; oversized ones become references. */
export function envelopes(node: string, events: DomainEvent[]): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let size = 0;
  const flush = () => {
    if (batch.length) out.push(`{"node":${JSON.stringify(node)},"events":[${batch.join(",")}]}`);
    batch = [];
    size = 0;
  };
  for (const e of events) {
    let body = JSON.stringify(e);
    if (Buffer.byteLength(body) > MAX_NOTIFY - 100)
      body = JSON.stringify({ workspaceId: e.workspaceId, seq: e.seq, ref: true });
    const bytes = Buffer.byteLength(body) + 1;
    if (size + bytes > MAX_NOTIFY - 100) flush();
    batch.push(body);
    size += bytes;
  }
  flush();
  return out;
}
