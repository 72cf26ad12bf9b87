import { beforeAll, describe, expect, it } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../db/connect.ts";
import { contacts, conversations, interactions } from "../db/schema/index.ts";
import { removeConversations } from "../privacy/remove-conversations.ts";
import { testWorkspace } from "../test/workspace.ts";
import { GROUPS, type Filters, type GroupBy, type ReportPeriod } from "./period.ts";
import { rebuildRollups } from "./rollup.ts";
import { report } from "./summary.ts";

/**
 * The rollup (interaction_rollups, kept by migration 0022's triggers) gives every figure the facts give:
 * the same fixture read through both paths, for every grouping, in whole-hour, half-hour (Kolkata) and
 * 45-minute (Kathmandu: read from the facts) zones, periods on and off the half-hour, after updates and
 * after an erasure; and the rows the triggers kept equal a rebuild from scratch.
 */
let w: Awaited<ReturnType<typeof testWorkspace>>;
let conversationIds: string[] = [];
const NOW = new Date("2026-03-09T23:00:00Z");
const DAY = new Date("2026-03-07T00:00:00Z").getTime();

/** A deterministic spread of facts over three days: every outcome, optional figure and dimension. */
function fixture(agents: string[], conversationIds: string[], contactIds: string[]) {
  const queuesOf = [crypto.randomUUID(), crypto.randomUUID(), null];
  const teams = [crypto.randomUUID(), null];
  const inboxes = [crypto.randomUUID(), crypto.randomUUID()];
  const channels = ["webchat", "voice", "email"];
  return Array.from({ length: 120 }, (_, n) => {
    const at = DAY + ((n * 2_137_411) % (3 * 86_400_000)) - (n % 5 === 0 ? (n % 1800) * 1000 : 0);
    const outcome = ["answered", "answered", "abandoned", "waiting", "closed"][n % 5]!;
    const answered = outcome === "answered";
    const wait = 3.25 + ((n * 7) % 90) + n / 7;
    const c = n % conversationIds.length;
    return {
      id: crypto.randomUUID(),
      workspaceId: w.workspaceId,
      conversationId: conversationIds[c]!,
      contactId: contactIds[c]!,
      channel: channels[n % 3]!,
      inboxId: inboxes[n % 2]!,
      queueId: queuesOf[n % 3],
      teamId: teams[n % 2],
      agentId: answered ? agents[n % agents.length]! : null,
      offeredAt: new Date(at),
      answeredAt: answered ? new Date(at + wait * 1000) : null,
      endedAt: outcome === "waiting" ? null : new Date(at + 600_000),
      outcome,
      waitS: answered || outcome === "abandoned" ? wait : null,
      firstResponseS: n % 3 === 1 ? null : 1.5 + ((n * 13) % 200) / 3,
      nextResponseSumS: n % 4 === 0 ? 10.1 * (n % 6) : null,
      nextResponseCount: n % 4 === 0 ? n % 6 : 0,
      resolutionS: answered ? 100 + n * 1.1 : null,
      handleS: answered ? 50 + n / 3 : null,
      transfers: n % 7 === 0 ? 1 + (n % 2) : 0,
      serviceLevelS: n % 4 === 3 ? null : 20,
      answeredInSl: answered ? wait <= 20 : outcome === "abandoned" ? false : null,
      ewtAnnouncedS: n % 6 === 0 ? 15 + (n % 40) : null,
      callback: n % 9 === 0,
      callbackKept: n % 9 === 0 ? n % 2 === 0 : null,
      reopened: n % 11 === 0,
      firstContactResolved: answered ? n % 3 !== 0 : null,
      csatScore: answered && n % 2 === 0 ? 1 + (n % 5) : null,
      csatMax: answered && n % 2 === 0 ? 5 : null,
      slaBreached: n % 8 === 0 ? true : n % 8 === 1 ? false : null,
    };
  });
}

beforeAll(async () => {
  w = await testWorkspace();
  const inbox = await w.inbox();
  const agents = [(await w.actor("agent", "Ann")).userId, (await w.actor("agent", "Bob")).userId];
  const people = await w.core.db
    .insert(contacts)
    .values([0, 1, 2].map(() => ({ workspaceId: w.workspaceId })))
    .returning();
  const convs = await w.core.db
    .insert(conversations)
    .values(
      people.map((p) => ({
        workspaceId: w.workspaceId,
        contactId: p.id,
        inboxId: inbox.id,
        channel: "webchat" as const,
      })),
    )
    .returning();
  conversationIds = convs.map((c) => c.id);
  await w.core.db.insert(interactions).values(
    fixture(
      agents,
      conversationIds,
      people.map((p) => p.id),
    ),
  );
});

/** Equal, numbers to 1e-9 relative: a float sum may add in another order than avg() did. */
function same(a: unknown, b: unknown, path = ""): void {
  if (typeof a === "number" && typeof b === "number") {
    if (Math.abs(a - b) > 1e-9 * Math.max(1, Math.abs(a))) expect(`${path}: ${a}`).toBe(`${path}: ${b}`);
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) same((a as never)[k], (b as never)[k], `${path}.${k}`);
    return;
  }
  expect(a).toEqual(b as never);
}

const WHOLE: Omit<ReportPeriod, "tz"> = {
  from: new Date("2026-03-06T00:00:00Z"),
  to: new Date("2026-03-11T00:00:00Z"),
};
const EDGES: Omit<ReportPeriod, "tz"> = {
  from: new Date("2026-03-07T05:17:23Z"),
  to: new Date("2026-03-09T21:44:10Z"),
};

async function compare(tz: string, period: Omit<ReportPeriod, "tz">, groupBy: GroupBy | null, filters: Filters = {}) {
  const p = { ...period, tz };
  const rollup = await report(w.core.db, w.workspaceId, p, groupBy, filters, NOW);
  const facts = await report(w.core.db, w.workspaceId, p, groupBy, filters, NOW, "facts");
  expect(facts.source).toBe("facts");
  same(rollup.rows, facts.rows, `${tz} ${groupBy}`);
  same(rollup.total, facts.total, `${tz} ${groupBy} total`);
  expect(facts.total.offered).toBeGreaterThan(0);
  return rollup.source;
}

describe("the rollup read path", () => {
  it("gives every figure the facts give, for every grouping, on and off the half-hour", async () => {
    for (const tz of ["UTC", "Asia/Shanghai", "America/New_York"])
      for (const period of [WHOLE, EDGES])
        for (const groupBy of [...GROUPS, null]) expect(await compare(tz, period, groupBy)).toBe("rollup");
  });

  it("groups by local day in Kolkata (+5:30) from the rollup, and in Kathmandu (+5:45) from the facts", async () => {
    for (const period of [WHOLE, EDGES]) {
      expect(await compare("Asia/Kolkata", period, "day")).toBe("rollup");
      expect(await compare("Asia/Kolkata", period, "hour")).toBe("rollup");
      expect(await compare("Asia/Kathmandu", period, "day")).toBe("facts");
      expect(await compare("Asia/Kathmandu", period, "agent")).toBe("rollup");
    }
  });

  it("reads the rollup filtered on the grouped dimension only", async () => {
    const [agent] = rowsOf<{ id: string }>(
      await w.core.db.execute(
        sql`SELECT agent_id AS id FROM interactions WHERE workspace_id = ${w.workspaceId} AND agent_id IS NOT NULL LIMIT 1`,
      ),
    );
    // Ids as typed, in capitals too: the rollup keys them as the facts' uuids would match them.
    expect(await compare("UTC", EDGES, "agent", { agentId: [agent!.id.toUpperCase()] })).toBe("rollup");
    expect(await compare("UTC", EDGES, "day", { agentId: [agent!.id] })).toBe("facts");
    expect(await compare("UTC", EDGES, "channel", { channel: ["voice"] })).toBe("rollup");
  });

  it("follows updates and an erasure, and what the triggers kept equals a rebuild", async () => {
    // A derivation rewriting facts: one moves to another interval, another is answered.
    await w.core.db.execute(sql`
      UPDATE interactions SET offered_at = offered_at + interval '7 hours', handle_s = 77.7
      WHERE id IN (SELECT id FROM interactions WHERE workspace_id = ${w.workspaceId} ORDER BY id LIMIT 9)`);
    expect(await compare("Asia/Kolkata", EDGES, "day")).toBe("rollup");
    const before = await w.core.db.execute(
      sql`SELECT count(*)::int AS n FROM interactions WHERE workspace_id = ${w.workspaceId}`,
    );
    // Erasing a contact removes its conversations and, by cascade, their facts: nothing of them stays counted.
    await removeConversations(w.core.db, { localPath: (k) => `/nonexistent/${k}` }, w.workspaceId, [
      conversationIds[0]!,
    ]);
    const after = await w.core.db.execute(
      sql`SELECT count(*)::int AS n FROM interactions WHERE workspace_id = ${w.workspaceId}`,
    );
    expect(Number(rowsOf<{ n: number }>(after)[0]!.n)).toBe(Number(rowsOf<{ n: number }>(before)[0]!.n) - 40);
    for (const groupBy of ["day", "agent", "queue", null] as const)
      expect(await compare("Asia/Kolkata", EDGES, groupBy)).toBe("rollup");
    const p = { ...WHOLE, tz: "UTC" };
    expect((await report(w.core.db, w.workspaceId, p, null, {}, NOW)).total.offered).toBe(80);
    const rows = async () =>
      rowsOf<Record<string, unknown>>(
        await w.core.db.execute(sql`
          SELECT * FROM interaction_rollups WHERE workspace_id = ${w.workspaceId} ORDER BY bucket, dim, dim_key`),
      ).map(({ updated_at: _, ...r }) => r);
    const kept = await rows();
    expect(kept.length).toBeGreaterThan(80);
    await rebuildRollups(w.core.db, w.workspaceId);
    same(await rows(), kept);
  });
});
