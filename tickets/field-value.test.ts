import { describe, expect, it } from "bun:test";
import { mergeFields } from "./field-value.ts";

const defs = [
  { key: "order_no", kind: "text" as const, options: [], required: true },
  { key: "amount", kind: "number" as const, options: [], required: false },
  { key: "bought_on", kind: "date" as const, options: [], required: false },
  { key: "channel", kind: "select" as const, options: ["online", "门店"], required: false },
];

const fieldOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as { field?: string }).field;
  }
  return undefined;
};

describe("ticket custom fields", () => {
  it("accepts values of each kind and merges them into the current ones", () => {
    const merged = mergeFields(defs, { order_no: "A1" }, { amount: 12.5, bought_on: "2024-02-29", channel: "门店" });
    expect(merged).toEqual({ order_no: "A1", amount: 12.5, bought_on: "2024-02-29", channel: "门店" });
  });

  it("clears a field set to null", () => {
    expect(mergeFields(defs, { order_no: "A1", amount: 3 }, { amount: null })).toEqual({ order_no: "A1" });
  });

  it("names the field of a value of the wrong kind", () => {
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { amount: "12" }))).toBe("fields.amount");
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { amount: Number.NaN }))).toBe("fields.amount");
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { bought_on: "2023-02-29" }))).toBe("fields.bought_on");
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { bought_on: "29/02/2024" }))).toBe("fields.bought_on");
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { channel: "phone" }))).toBe("fields.channel");
    expect(fieldOf(() => mergeFields(defs, {}, { order_no: "x".repeat(2001) }))).toBe("fields.order_no");
  });

  it("refuses an unknown key and a missing required field", () => {
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { colour: "red" }))).toBe("fields.colour");
    expect(fieldOf(() => mergeFields(defs, {}, { amount: 1 }))).toBe("fields.order_no");
    expect(fieldOf(() => mergeFields(defs, { order_no: "A" }, { order_no: null }))).toBe("fields.order_no");
  });
});
