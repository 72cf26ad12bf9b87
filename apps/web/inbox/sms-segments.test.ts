import { describe, expect, it } from "bun:test";
import { smsSegments } from "./sms-segments.ts";

describe("SMS segments", () => {
  it("fits 160 GSM-7 characters in one message and splits longer text into parts of 153", () => {
    expect(smsSegments("")).toEqual({ encoding: "GSM-7", segments: 0, used: 0, perSegment: 160 });
    expect(smsSegments("Hello!")).toEqual({ encoding: "GSM-7", segments: 1, used: 6, perSegment: 160 });
    expect(smsSegments("a".repeat(160))).toEqual({ encoding: "GSM-7", segments: 1, used: 160, perSegment: 160 });
    expect(smsSegments("a".repeat(161))).toEqual({ encoding: "GSM-7", segments: 2, used: 8, perSegment: 153 });
    expect(smsSegments("a".repeat(306))).toEqual({ encoding: "GSM-7", segments: 2, used: 153, perSegment: 153 });
    expect(smsSegments("a".repeat(307))).toMatchObject({ segments: 3, used: 1 });
    expect(smsSegments("a".repeat(287))).toMatchObject({ segments: 2, used: 134 });
  });

  it("counts GSM-7's extension characters twice and never splits one across parts", () => {
    expect(smsSegments("€".repeat(80))).toMatchObject({ encoding: "GSM-7", segments: 1, used: 160 });
    expect(smsSegments("€".repeat(81))).toMatchObject({ segments: 2 });
    // 152 plain characters, then a "[": 154 septets would overflow the first part, so "[" opens the second.
    expect(smsSegments(`${"a".repeat(152)}[${"b".repeat(10)}`)).toMatchObject({ segments: 2, used: 12 });
    expect(smsSegments("ÄÖÑÜ äöñüà éèùìò Ç £ ¥ § ¿ ¡ Δ are GSM-7")).toMatchObject({ encoding: "GSM-7" });
    expect(smsSegments("naïve")).toMatchObject({ encoding: "UCS-2" });
  });

  it("switches the whole text to UCS-2 for one character outside GSM-7: 70 per message, 67 per part", () => {
    expect(smsSegments("您好")).toEqual({ encoding: "UCS-2", segments: 1, used: 2, perSegment: 70 });
    expect(smsSegments("您".repeat(70))).toMatchObject({ segments: 1, used: 70 });
    expect(smsSegments("您".repeat(71))).toEqual({ encoding: "UCS-2", segments: 2, used: 4, perSegment: 67 });
    expect(smsSegments(`${"a".repeat(100)}’`)).toMatchObject({ encoding: "UCS-2", segments: 2, used: 34 });
  });

  it("counts an emoji as two UTF-16 units and keeps its pair in one part", () => {
    expect(smsSegments("👍")).toMatchObject({ encoding: "UCS-2", segments: 1, used: 2 });
    // 66 units, then a pair that would make 68 of 67: the emoji opens the second part.
    expect(smsSegments(`${"x".repeat(66)}👍${"y".repeat(10)}`)).toMatchObject({ segments: 2, used: 12 });
  });
});
