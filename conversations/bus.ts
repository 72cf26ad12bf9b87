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
  private handlers = new Set<(message: BusMessage) => void>();

  publish(events: DomainEvent[]) {
    for (const e of events) for (const h of this.handlers) h(e);
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
// NOTIFY payloads are limited to 8000 bytes; leave room for multi-byte text.
const MAX_NOTIFY = 7000;

/**
 * Many nodes on one PostgreSQL: every node (the publisher too) hears events through LISTEN, so there
 * is one delivery path. A payload too large for NOTIFY travels as a reference the feed loads.
 */
export class PostgresBus implements EventBus {
  private handlers = new Set<(message: BusMessage) => void>();
  private listening: Promise<{ unlisten(): Promise<void> }>;
  private onReconnect: (() => void) | undefined;

  constructor(private readonly pg: postgres.Sql) {
    this.listening = pg.listen(
      CHANNEL,
      (payload) => this.receive(payload),
      // Called on first listen and after every reconnect: notifications sent while we were away are
      // lost, so the feed catches up from the events table.
      () => this.onReconnect?.(),
    );
  }

  ready() {
    return this.listening.then(() => undefined);
  }

  /** The feed registers its catch-up here. */
  setReconnectHandler(fn: () => void) {
    this.onReconnect = fn;
  }

  private receive(payload: string) {
    let message: BusMessage;
    try {
      message = JSON.parse(payload) as BusMessage;
    } catch {
      log.warn("bus: unreadable notification dropped");
      return;
    }
    for (const h of this.handlers) h(message);
  }

  publish(events: DomainEvent[]) {
    for (const e of events) {
      let body = JSON.stringify(e);
      if (Buffer.byteLength(body) > MAX_NOTIFY) body = JSON.stringify({ workspaceId: e.workspaceId, seq: e.seq, ref: true });
      this.pg.notify(CHANNEL, body).catch((err: unknown) => log.warn("bus: notify failed", { err }));
    }
  }

  subscribe(handler: (message: BusMessage) => void) {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  async close() {
    this.handlers.clear();
    await (await this.listening).unlisten().catch(() => {});
  }
}
