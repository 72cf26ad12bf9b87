import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { testWorkspace } from "../test/workspace.ts";
import { createArticle, type KnowledgeActor } from "./article.ts";
import { EmbeddedBackend } from "./embedded.ts";
import { SAMPLE_ARTICLES, type SampleKey } from "./fixtures.ts";
import { IndexSyncWorker, MeilisearchBackend } from "./meilisearch.ts";
import { KnowledgeSearch, type SearchBackend, type SearchQuery } from "./search.ts";

/**
 * One contract for every search backend: the embedded engine always, Meilisearch where MEILI_HOST
 * points at a server. Each backend gets its own workspace (and index) with the same articles.
 */
type Setup = {
  backend: SearchBackend;
  externalIndex: boolean;
  drain?: (ws: string) => Promise<void>;
  close?: () => Promise<void>;
};

const backends: Record<string, () => Promise<Setup>> = {
  embedded: async () => {
    const { database } = await (await import("../test/db.ts")).testDatabase();
    return { backend: new EmbeddedBackend(database.db), externalIndex: false };
  },
};
if (process.env.MEILI_HOST) {
  backends.meilisearch = async () => {
    const { database } = await (await import("../test/db.ts")).testDatabase();
    const indexName = `test_${crypto.randomUUID().slice(0, 8)}`;
    const meili = new MeilisearchBackend({ host: process.env.MEILI_HOST!, key: process.env.MEILI_KEY, indexName });
    const sync = new IndexSyncWorker(database.db, meili);
    return {
      backend: meili,
      externalIndex: true,
      drain: async () => {
        while ((await sync.drainOnce()) > 0);
        if ((await sync.backlog()) > 0) throw new Error("index outbox did not drain");
      },
      close: async () => void (await meili.client.deleteIndex(indexName).waitTask()),
    };
  };
}

for (const [name, make] of Object.entries(backends)) {
  describe(`search contract: ${name}`, () => {
    let setup: Setup;
    let search: KnowledgeSearch;
    let workspaceId: string;
    const ids = {} as Record<SampleKey | "internal" | "draft" | "archived", string>;

    beforeAll(async () => {
      setup = await make();
      const w = await testWorkspace();
      workspaceId = w.workspaceId;
      const editor: KnowledgeActor = await w.actor("knowledge_editor");
      search = new KnowledgeSearch(w.core.db, setup.backend);
      const save = (input: object) => createArticle(w.core.db, editor, input, { externalIndex: setup.externalIndex });
      for (const a of SAMPLE_ARTICLES) ids[a.key] = (await save({ ...a, status: "published" })).id;
      ids.internal = (
        await save({
          title: "Refund escalation for agents",
          locale: "en",
          status: "published",
          visibility: "agents",
          body: "Refunds above 500 USD need a supervisor's approval in the billing tool.",
        })
      ).id;
      ids.draft = (
        await save({
          title: "Refund policy (draft)",
          locale: "en",
          status: "draft",
          body: "Refund rules we are still writing.",
        })
      ).id;
      ids.archived = (
        await save({ title: "Old refund form", locale: "en", status: "archived", body: "The old refund form is gone." })
      ).id;
      await setup.drain?.(workspaceId);
    }, 60_000);
    afterAll(async () => {
      await setup.close?.();
    });

    const find = (q: string, more: Partial<SearchQuery> = {}) =>
      search.search({ workspaceId, q, publicOnly: true, limit: 10, ...more });
    const top = async (q: string, more: Partial<SearchQuery> = {}) => (await find(q, more))[0]?.id;

    it("finds the Chinese refund article for 退款", async () => {
      expect(await top("退款")).toBe(ids["refund-zh"]);
    });

    it("finds the Chinese order-status article for a question: 怎么查询订单", async () => {
      expect(await top("怎么查询订单")).toBe(ids["order-status-zh"]);
      expect(await top("我想改一下收货地址")).toBe(ids["address-zh"]);
    });

    it("matches English by stem: refunds, refunding and tracked find their articles", async () => {
      expect(await top("refunds")).toBe(ids["refund-en"]);
      expect(await top("refunding my purchase")).toBe(ids["refund-en"]);
      expect(await top("tracked parcels")).toBe(ids["order-status-en"]);
    });

    it("tolerates typos in English words", async () => {
      expect(await top("refnud")).toBe(ids["refund-en"]);
      expect(await top("chnage delivery adress")).toBe(ids["address-en"]);
    });

    it("ranks a title match above a body-only match, best first with a score and a snippet", async () => {
      const hits = await find("delivery address");
      expect(hits[0]!.id).toBe(ids["address-en"]);
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
      expect(hits[0]!.snippet.toLowerCase()).toContain("address");
      const [s, e] = hits[0]!.highlights[0]!;
      expect(hits[0]!.snippet.slice(s, e).toLowerCase()).toMatch(/^(deliver|address)/);
    });

    it("filters by locale: zh-CN finds only Chinese articles, en only English ones", async () => {
      const zh = await find("订单 order 退款 refund", { locale: "zh-CN" });
      expect(zh.length).toBeGreaterThan(0);
      expect(zh.every((h) => h.locale === "zh-CN")).toBe(true);
      const en = await find("订单 order 退款 refund", { locale: "en" });
      expect(en.length).toBeGreaterThan(0);
      expect(en.every((h) => h.locale === "en")).toBe(true);
    });

    it("never shows agents-only articles to the public, but does to agents; drafts and archived never", async () => {
      const publicIds = (await find("refund escalation supervisor approval")).map((h) => h.id);
      expect(publicIds).not.toContain(ids.internal);
      const agentIds = (await find("refund escalation supervisor approval", { publicOnly: false })).map((h) => h.id);
      expect(agentIds[0]).toBe(ids.internal);
      const all = (await find("refund policy draft old form", { publicOnly: false, limit: 50 })).map((h) => h.id);
      expect(all).not.toContain(ids.draft);
      expect(all).not.toContain(ids.archived);
    });

    it("reads search syntax as words: operators and quotes neither fail nor widen the search", async () => {
      for (const q of [
        "refund & | ! ( ) :* <-> '\"",
        "refund') OR 1=1 --",
        "refund* ~ -return",
        "\\ \\\\ ' '' refund",
      ]) {
        expect(await top(q)).toBe(ids["refund-en"]);
      }
      expect(await find("!!! ||| &&& ((( )))")).toEqual([]);
    });

    it("answers one-character and 10,000-character queries without failing", async () => {
      expect(await find("r")).toEqual([]);
      const long = "refund ".repeat(1500);
      expect(long.length).toBeGreaterThan(10_000 - 1);
      expect(await top(long)).toBe(ids["refund-en"]);
      expect(await top("退".repeat(10_000))).toBeUndefined();
    });

    it("keeps to its workspace and to the limit", async () => {
      const other = await testWorkspace();
      expect(
        await search.search({ workspaceId: other.workspaceId, q: "refund", publicOnly: false, limit: 10 }),
      ).toEqual([]);
      expect((await find("order 订单 refund 退款 address 地址", { limit: 2 })).length).toBe(2);
    });
  });
}
