import { connect, type Database } from "../db/connect.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { importArticles, type ImportedArticle } from "../knowledge/bulk.ts";
import { EmbeddedBackend } from "../knowledge/embedded.ts";
import { IndexSyncWorker, MeilisearchBackend, enqueueAll } from "../knowledge/meilisearch.ts";
import type { SearchBackend } from "../knowledge/search.ts";
import { openPostgres, type Target } from "./harness/database.ts";
import { summarize } from "./harness/stats.ts";

/**
 * `bun run bench search`: 100,000 generated articles (half Chinese, half English) in one workspace,
 * indexing time, then a fixed set of queries (Chinese, English, typos, stems, locale filter) timed
 * one after another on the embedded engine — PGlite and PostgreSQL — and on Meilisearch when
 * MEILI_HOST is set. Target: p95 < 30 ms on the embedded engine.
 */
const ARTICLES = Number(process.env.BENCH_ARTICLES ?? 100_000);
const ROUNDS = 10;
const TARGET_P95_MS = 30;

// Topics as a shop's help center has them, each in both languages.
const TOPICS: { en: string[]; zh: string[] }[] = [
  { en: ["refund", "money back", "return window"], zh: ["退款", "退货", "原路退回"] },
  { en: ["order status", "tracking", "parcel"], zh: ["订单状态", "查询订单", "物流进度"] },
  { en: ["delivery address", "change address", "shipping"], zh: ["收货地址", "修改地址", "配送"] },
  { en: ["password reset", "sign in", "account locked"], zh: ["重置密码", "登录", "账号锁定"] },
  { en: ["invoice", "receipt", "tax number"], zh: ["发票", "收据", "税号"] },
  { en: ["payment failed", "credit card", "declined"], zh: ["支付失败", "信用卡", "付款"] },
  { en: ["warranty", "repair", "broken device"], zh: ["保修", "维修", "设备损坏"] },
  { en: ["gift card", "voucher", "coupon code"], zh: ["礼品卡", "优惠券", "兑换码"] },
  { en: ["subscription", "cancel plan", "renewal"], zh: ["订阅", "取消套餐", "自动续费"] },
  { en: ["international shipping", "customs", "duties"], zh: ["国际运输", "海关", "关税"] },
];
const EN_FILLER =
  "please note that customers can usually find this option in the account settings page and our support team answers within one business day when something is unclear about the process described above".split(
    " ",
  );
const ZH_FILLER = [
  "请注意",
  "您可以",
  "在账户设置",
  "页面中",
  "找到",
  "该选项",
  "如有疑问",
  "客服",
  "将在",
  "一个工作日内",
  "回复",
  "具体流程",
  "如下所述",
  "感谢您的耐心",
];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

export function generateArticles(n: number, seed = 42): ImportedArticle[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const out: ImportedArticle[] = [];
  for (let i = 0; i < n; i++) {
    const topic = pick(TOPICS);
    const zh = i % 2 === 1;
    const words = zh ? topic.zh : topic.en;
    const filler = zh ? ZH_FILLER : EN_FILLER;
    const sentence = (len: number) =>
      Array.from({ length: len }, () => (r() < 0.2 ? pick(words) : pick(filler))).join(zh ? "" : " ");
    const body = Array.from({ length: 4 }, () => sentence(zh ? 12 : 25) + (zh ? "。" : ".")).join("\n\n");
    out.push({
      locale: zh ? "zh-CN" : "en",
      title: zh ? `${pick(words)}：${pick(words)}常见问题 ${i}` : `${pick(words)} — how ${pick(words)} works (${i})`,
      summary: sentence(zh ? 6 : 12),
      tags: [pick(words)],
      body,
    });
  }
  return out;
}

export const QUERIES: { q: string; locale?: string }[] = [
  { q: "退款" },
  { q: "怎么查询订单" },
  { q: "修改收货地址" },
  { q: "发票怎么开" },
  { q: "支付失败怎么办" },
  { q: "refund" },
  { q: "order status" },
  { q: "change delivery address" },
  { q: "password reset" },
  { q: "invoices" },
  { q: "refnud" },
  { q: "warrenty repair" },
  { q: "cancelling my subscription" },
  { q: "gift card voucher" },
  { q: "customs duties international" },
  { q: "退款 refund", locale: "zh-CN" },
  { q: "tracking parcel", locale: "en" },
  { q: "礼品卡 优惠券" },
  { q: "account locked sign in" },
  { q: "海关 关税" },
];

type Row = {
  engine: string;
  articles: number;
  indexSeconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  queries: number;
};

async function measure(
  engine: string,
  backend: SearchBackend,
  workspaceId: string,
  indexSeconds: number,
): Promise<Row> {
  // Warm-up: one pass, not counted (plans, caches).
  for (const { q, locale } of QUERIES) await backend.search({ workspaceId, q, locale, publicOnly: true, limit: 10 });
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const { q, locale } of QUERIES) {
      const t = performance.now();
      await backend.search({ workspaceId, q, locale, publicOnly: true, limit: 10 });
      samples.push(performance.now() - t);
    }
  }
  const s = summarize(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
  return {
    engine,
    articles: ARTICLES,
    indexSeconds,
    perSecond: ARTICLES / indexSeconds,
    p50: s.p50,
    p95,
    p99: s.p99,
    max: s.max,
    queries: samples.length,
  };
}

async function loadInto(database: Database) {
  const ws = await createWorkspace(database.db, `Bench ${crypto.randomUUID().slice(0, 6)}`);
  const items = generateArticles(ARTICLES);
  const started = performance.now();
  await importArticles(database.db, ws.id, items, 1000);
  if (database.driver === "postgres") await database.db.execute("ANALYZE knowledge_articles" as never);
  return { workspaceId: ws.id, seconds: (performance.now() - started) / 1000 };
}

export async function benchSearch({ json }: { json: boolean }) {
  const rows: Row[] = [];
  const log = (m: string) => !json && console.error(m);

  // BENCH_DRIVERS=postgres (or pglite) runs one driver only.
  const drivers = (process.env.BENCH_DRIVERS ?? "pglite,postgres").split(",");
  if (drivers.includes("pglite")) {
    log(`PGlite: generating and importing ${ARTICLES} articles…`);
    const lite = await connect({ memory: true });
    try {
      const { workspaceId, seconds } = await loadInto(lite);
      rows.push(await measure("embedded (PGlite)", new EmbeddedBackend(lite.db), workspaceId, seconds));
    } finally {
      await lite.close();
    }
  }

  if (drivers.includes("postgres")) {
    let target: Target | undefined;
    try {
      target = await openPostgres();
      log(`PostgreSQL: importing ${ARTICLES} articles…`);
      const pg = await target.open();
      try {
        const { workspaceId, seconds } = await loadInto(pg);
        rows.push(await measure("embedded (PostgreSQL)", new EmbeddedBackend(pg.db), workspaceId, seconds));
        if (process.env.MEILI_HOST) {
          log("Meilisearch: syncing through the outbox…");
          const meili = new MeilisearchBackend({
            host: process.env.MEILI_HOST,
            key: process.env.MEILI_KEY,
            indexName: `bench_${process.pid}`,
          });
          const sync = new IndexSyncWorker(pg.db, meili, { batch: 5000 });
          const started = performance.now();
          await enqueueAll(pg.db, workspaceId);
          while ((await sync.drainOnce()) > 0);
          rows.push(await measure("meilisearch", meili, workspaceId, (performance.now() - started) / 1000));
          await meili.client.deleteIndex(`bench_${process.pid}`).waitTask();
        }
      } finally {
        await pg.close();
      }
    } catch (err) {
      log(`PostgreSQL skipped: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await target?.dispose().catch(() => {});
    }
  }

  if (json) {
    console.log(JSON.stringify({ targetP95Ms: TARGET_P95_MS, rows }));
    return;
  }
  const f = (n: number) => n.toFixed(1);
  console.log(
    `\nsearch: ${ARTICLES} articles (50% zh-CN, 50% en), ${QUERIES.length} queries × ${ROUNDS} rounds, limit 10, target p95 < ${TARGET_P95_MS} ms\n`,
  );
  console.log("engine                  index s   articles/s   p50 ms   p95 ms   p99 ms   max ms");
  for (const r of rows) {
    console.log(
      `${r.engine.padEnd(22)} ${f(r.indexSeconds).padStart(8)} ${f(r.perSecond).padStart(12)} ${f(r.p50).padStart(8)} ${f(r.p95).padStart(8)} ${f(r.p99).padStart(8)} ${f(r.max).padStart(8)}${r.engine.startsWith("embedded") ? (r.p95 < TARGET_P95_MS ? "  ok" : "  OVER TARGET") : ""}`,
    );
  }
}
