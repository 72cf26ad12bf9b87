import { expect, it } from "bun:test";
import { RecentViews } from "./recent-views.ts";

it("counts one view per reader and article per window", () => {
  const views = new RecentViews(60_000);
  const t = 1_000_000;
  expect(views.first("reader-a", "article-1", t)).toBe(true);
  expect(views.first("reader-a", "article-1", t + 1000)).toBe(false);
  expect(views.first("reader-b", "article-1", t + 1000)).toBe(true);
  expect(views.first("reader-a", "article-2", t + 1000)).toBe(true);
  expect(views.first("reader-a", "article-1", t + 60_000)).toBe(true);
});

it("stays bounded under many distinct readers", () => {
  const views = new RecentViews(60_000, 100);
  for (let i = 0; i < 1000; i++) views.first(`reader-${i}`, "article", 5);
  expect((views as unknown as { until: Map<string, number> }).until.size).toBeLessThanOrEqual(100);
});
