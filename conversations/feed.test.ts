import { describe, expect, it } from "bun:test";
import type { BusMessage, EventBus } from "./bus.ts";
import { expiredEvents, pruneEvents, type DomainEvent } from "./event.ts";
import { eq } from "drizzle-orm";
import { events } from "../db/schema/index.ts";
import { seedEvents as seedStoredEvents } from "../test/events.ts";
import { EventFeed, type FeedOptions } from "./feed.ts";
import { ingestInbound } from "./ingest.ts";
import { indexPlan } from "../test/plan.ts";
import { testWorkspace } from "../test/workspace.ts";

/** A bus under test control: what ingest publishes is held back, reordered or dropped at will. */
class ManualBus implements EventBus {
  held: DomainEvent[] = [];
  private handlers = new Set<(m: BusMessage) => void>();
  publish(events: DomainEvent[]) {
    this.held.push(...events);
  }
  subscribe(h: (m: BusMessage) => void) {
    this.handlers.add(h);
    return () => void this.handlers.delete(h);
  }
  deliver(m: BusMessage) {
    for (const h of this.handlers) h(m);
  }
  async close() {}
}

async function setup(options: FeedOptions = {}) {
  const w = await testWorkspace();
  const bus = new ManualBus();
  const core = { db: w.core.db, bus };
  const feed = new EventFeed(w.core.db, bus, options);
  const inbox = await w.inbox();
  const send = (n: number) =>
    ingestInbound(core, w.workspaceId, {
      channel: "webchat",
      channelAccountId: inbox.id,
      externalId: `m${n}`,
      from: { kind: "visitor", value: "v" },
      text: `m${n}`,
    });
  const received: number[] = [];
  const sub = await feed.subscribe(w.workspaceId, { filter: () => true, deliver: (e) => received.push(e.seq) });
  return { w, bus, feed, send, received, sub };
}

/**
 * Waits until `done` holds (the feed delivers asynchronously, after database reads), then until the
 * feed has run everything queued for the workspace, so a repeat delivered late would be seen too.
 * A condition, not a fixed pause: on a busy machine a pause is too short and the test fails by luck.
 */
async function settled(feed: EventFeed, workspaceId: string, done: () => boolean) {
  for (const deadline = Date.now() + 10_000; !done() && Date.now() < deadline; ) await Bun.sleep(10);
  await drained(feed, workspaceId);
}

const seedEvents = (w: Awaited<ReturnType<typeof testWorkspace>>, count: number) =>
  seedStoredEvents(w.core.db, w.workspaceId, count);

/** Resolves once everything queued for the workspace so far has run: subscribing waits its turn. */
async function drained(feed: EventFeed, workspaceId: string) {
  (await feed.subscribe(workspaceId, { filter: () => false, deliver: () => {} })).unsubscribe();
}

describe("event feed", () => {
  it("delivers events that arrive out of order in seq order, exactly once", async () => {
    const { bus, feed, send, received, sub } = await setup();
    await send(1);
    await send(2);
    await send(3);
    const [a, b, c, d] = bus.held;
    // Another node's NOTIFY overtook ours: 3 arrives first, then the earlier ones, then 3 again.
    for (const m of [d!, a!, b!, c!, d!]) bus.deliver(m);
    await settled(feed, a!.workspaceId, () => received.length >= 4);
    expect(received).toEqual([a!.seq, b!.seq, c!.seq, d!.seq]);
    expect(received).toEqual([...received].sort((x, y) => x - y));
    sub.unsubscribe();
    feed.close();
  });

  it("fills events lost by the bus from the events table", async () => {
    const { bus, feed, send, received } = await setup();
    await send(1);
    await send(2);
    const last = bus.held[bus.held.length - 1]!;
    bus.deliver(last);
    await settled(feed, last.workspaceId, () => received.length >= bus.held.length);
    expect(received).toEqual(bus.held.map((e) => e.seq));
    feed.close();
  });

  it("loads an event sent only as a reference (too big for NOTIFY)", async () => {
    const { bus, feed, send, received } = await setup();
    await send(1);
    const ref = bus.held[bus.held.length - 1]!;
    bus.deliver({ workspaceId: ref.workspaceId, seq: ref.seq, ref: true });
    await settled(feed, ref.workspaceId, () => received.length >= bus.held.length);
    expect(received).toEqual(bus.held.map((e) => e.seq));
    feed.close();
  });

  it("replays what a subscriber missed after a seq, then continues live without a repeat", async () => {
    const { w, bus, feed, send } = await setup();
    await send(1);
    await send(2);
    const firstSeq = bus.held[0]!.seq;
    const replayed: number[] = [];
    let hello = { seq: -1, head: -1 };
    await feed.subscribe(
      w.workspaceId,
      { filter: () => true, deliver: (e) => replayed.push(e.seq), start: (seq, head) => (hello = { seq, head }) },
      firstSeq,
    );
    // The resume point is where the replay starts, so a client that resumes from the highest seq of
    // any frame (hello included) cannot skip what the replay was about to bring.
    expect(hello).toEqual({ seq: firstSeq, head: bus.held[bus.held.length - 1]!.seq });
    expect(replayed).toEqual(bus.held.slice(1).map((e) => e.seq));
    for (const e of bus.held) bus.deliver(e);
    await send(3);
    for (const e of bus.held.slice(-1)) bus.deliver(e);
    await settled(feed, w.workspaceId, () => replayed.length >= bus.held.length - 1);
    expect(replayed).toEqual(bus.held.slice(1).map((e) => e.seq));
    feed.close();
  });

  it("applies the subscriber's filter to live and replayed events", async () => {
    const { w, bus, feed, send } = await setup();
    await send(1);
    const seen: string[] = [];
    await feed.subscribe(
      w.workspaceId,
      { filter: (e) => e.type === "item.created", deliver: (e) => seen.push(e.type) },
      0,
    );
    await send(2);
    for (const e of bus.held) bus.deliver(e);
    await settled(feed, w.workspaceId, () => seen.length >= 2);
    expect(seen).toEqual(["item.created", "item.created"]);
    feed.close();
  });
});

describe("gaps and replays longer than a page", () => {
  it("fills a gap of more than 5,000 events page by page: every event exactly once, in order", async () => {
    const { w, bus, feed, received } = await setup({ pageSize: 700 });
    const seqs = await seedEvents(w, 5_100);
    // One reference for the newest: everything before it is a gap to read from the table.
    bus.deliver({ workspaceId: w.workspaceId, seq: seqs[seqs.length - 1]!, ref: true });
    await drained(feed, w.workspaceId);
    expect(received.length).toBe(seqs.length);
    expect(received).toEqual(seqs);
    feed.close();
  });

  it("replays more than 5,000 missed events page by page when the replay limit allows it", async () => {
    const { w, feed } = await setup({ pageSize: 700, replayLimit: 10_000 });
    const seqs = await seedEvents(w, 5_100);
    const replayed: number[] = [];
    let resynced = false;
    const sub = await feed.subscribe(
      w.workspaceId,
      { filter: () => true, deliver: (e) => replayed.push(e.seq), resync: () => (resynced = true) },
      0,
    );
    expect(resynced).toBe(false);
    expect(sub.truncated).toBe(false);
    expect(replayed).toEqual(seqs);
    feed.close();
  });

  it("says resync instead of a replay longer than the limit, sends none of it, then goes on live", async () => {
    const { w, bus, feed, send } = await setup({ pageSize: 700, replayLimit: 5_000 });
    const seqs = await seedEvents(w, 5_100);
    const frames: string[] = [];
    const sub = await feed.subscribe(
      w.workspaceId,
      {
        filter: () => true,
        deliver: (e) => frames.push(`event ${e.seq}`),
        resync: (seq) => frames.push(`resync ${seq}`),
      },
      0,
    );
    expect(sub.truncated).toBe(true);
    expect(frames).toEqual([`resync ${seqs[seqs.length - 1]}`]);
    await send(1);
    for (const e of bus.held) bus.deliver(e);
    await drained(feed, w.workspaceId);
    expect(frames.slice(1)).toEqual(bus.held.map((e) => `event ${e.seq}`));
    feed.close();
  });

  it("reads a replay only from the conversations the subscriber names", async () => {
    const { w, bus, feed, send } = await setup({ replayLimit: 10 });
    await seedEvents(w, 50);
    await send(1);
    const mine = bus.held.filter((e) => e.conversationId);
    const replayed: number[] = [];
    const sub = await feed.subscribe(
      w.workspaceId,
      {
        filter: () => true,
        deliver: (e) => replayed.push(e.seq),
        replayConversations: async () => [mine[0]!.conversationId!],
      },
      0,
    );
    // 50 other events would be over the limit of 10; the conversation's own are not.
    expect(sub.truncated).toBe(false);
    expect(replayed).toEqual(mine.map((e) => e.seq));
    feed.close();
  });
});

describe("event retention", () => {
  it("starts a quiet workspace whose events were all pruned at its newest seq, not at 0", async () => {
    const { w, bus, feed, send } = await setup();
    await send(1);
    await send(2);
    const head = bus.held[bus.held.length - 1]!.seq;
    await w.core.db.delete(events).where(eq(events.workspaceId, w.workspaceId));
    let hello = { seq: -1, head: -1 };
    await feed.subscribe(w.workspaceId, {
      filter: () => true,
      deliver: () => {},
      start: (seq, h) => (hello = { seq, head: h }),
    });
    expect(hello).toEqual({ seq: head, head });
    // A client that saw only the first of the pruned events cannot be replayed the rest: resync.
    const resyncs: number[] = [];
    const resumed = await feed.subscribe(
      w.workspaceId,
      { filter: () => true, deliver: () => {}, resync: (seq) => resyncs.push(seq) },
      bus.held[0]!.seq,
    );
    expect(resumed.truncated).toBe(true);
    expect(resyncs).toEqual([head]);
    feed.close();
  });

  it("resumes a client ahead of the head (a seq from a restored database) at the head, with a resync", async () => {
    const { w, bus, feed, send } = await setup();
    await send(1);
    const head = bus.held[bus.held.length - 1]!.seq;
    const frames: string[] = [];
    await feed.subscribe(
      w.workspaceId,
      {
        filter: () => true,
        deliver: (e) => frames.push(`event ${e.seq}`),
        start: (seq, h) => frames.push(`hello ${seq} ${h}`),
        resync: (seq) => frames.push(`resync ${seq}`),
      },
      head + 100,
    );
    expect(frames).toEqual([`hello ${head} ${head}`, `resync ${head}`]);
    feed.close();
  });

  it("tells a client resuming from before the oldest kept event to reload", async () => {
    const { w, send, feed } = await setup();
    await send(1);
    await send(2);
    // What pruneEvents does to old events, limited to this test's workspace (the database is shared).
    await w.core.db.delete(events).where(eq(events.workspaceId, w.workspaceId));
    await send(3);
    const replay = await feed.subscribe(w.workspaceId, { filter: () => true, deliver: () => {} }, 0);
    expect(replay.truncated).toBe(true);
    feed.close();
  });
});

describe("event pruning", () => {
  it("drops events past retention, found through the age index rather than a scan of the whole log", async () => {
    const w = await testWorkspace();
    const day = 86_400_000;
    await w.core.db.insert(events).values([
      {
        workspaceId: w.workspaceId,
        seq: 1_000_000_001,
        type: "item.created",
        createdAt: new Date(Date.now() - 40 * day),
      },
      { workspaceId: w.workspaceId, seq: 1_000_000_002, type: "item.created" },
    ]);
    await pruneEvents(w.core.db, new Date(Date.now() - 30 * day));
    const kept = await w.core.db.select({ seq: events.seq }).from(events).where(eq(events.workspaceId, w.workspaceId));
    expect(kept.map((e) => e.seq)).toEqual([1_000_000_002]);
    expect(await indexPlan(w.core.db, expiredEvents(w.core.db, new Date()).getSQL())).toContain("events_created_brin");
  });

  it("still prunes when the database refuses to summarize the age index (a role that does not own it)", async () => {
    const w = await testWorkspace();
    await w.core.db.insert(events).values({
      workspaceId: w.workspaceId,
      seq: 1_000_000_001,
      type: "item.created",
      createdAt: new Date(Date.now() - 40 * 86_400_000),
    });
    const refusing = new Proxy(w.core.db, {
      get: (db, key) =>
        key === "execute" ? () => Promise.reject(new Error("must be owner of index")) : Reflect.get(db, key),
    });
    await pruneEvents(refusing, new Date(Date.now() - 30 * 86_400_000));
    expect(await w.core.db.select().from(events).where(eq(events.workspaceId, w.workspaceId))).toEqual([]);
  });
});
