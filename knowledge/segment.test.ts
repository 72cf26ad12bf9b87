import { expect, it } from "bun:test";
import { coverage, indexText, queryTerms, snippetOf } from "./segment.ts";

it("splits Chinese into words and bigrams, and leaves Latin text to the stemmer", () => {
  const { latin, cjk } = indexText("订单状态查询 Order status");
  expect(latin.trim()).toBe("Order status");
  expect(cjk.split(" ")).toEqual(expect.arrayContaining(["订单", "状态", "查询", "单状"]));
});

it("turns any query into safe terms: letters and digits only, bounded", () => {
  const t = queryTerms("refund') OR 1=1 -- :* & 退款！");
  expect(t.latin).toEqual(["refund", "or", "1"]);
  expect(t.cjk).toEqual(["退款"]);
  expect(queryTerms("word ".repeat(5000)).latin).toEqual(["word"]);
  expect(queryTerms("a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh").latin.length).toBe(
    32,
  );
});

it("measures how much of a question an article covers, ignoring filler words", () => {
  const t = queryTerms("请问怎么查询订单");
  expect(t.key).toEqual(["查询", "订单"]);
  expect(coverage(t, "在我的订单页面查询")).toBe(1);
  expect(coverage(queryTerms("how do I get my refund"), "Refunds are paid back")).toBe(1);
  expect(coverage(queryTerms("cancel subscription"), "Refunds are paid back")).toBe(0);
});

it("cuts a snippet around the first match and marks whole words", () => {
  const text = "Lorem ipsum ".repeat(30) + "you can change the delivery address until it ships";
  const s = snippetOf(text, queryTerms("delivery"));
  expect(s.snippet.startsWith("…")).toBe(true);
  const [a, b] = s.highlights[0]!;
  expect(s.snippet.slice(a, b)).toBe("delivery");
});
