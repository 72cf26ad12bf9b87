import { describe, expect, it } from "bun:test";
import { csvCell, csvLine, csvStream, flatten } from "./csv.ts";

describe("csvCell", () => {
  it("defuses cells a spreadsheet would run as formulas", () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell("+86 138")).toBe("'+86 138");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\tcmd")).toBe("'\tcmd");
    expect(csvCell("\rcmd")).toBe(`"'\rcmd"`);
  });

  it("quotes commas, quotes and line breaks as RFC 4180 says, and leaves numbers alone", () => {
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell(-1.5)).toBe("-1.5");
    expect(csvCell(null)).toBe("");
    expect(csvCell(true)).toBe("true");
    expect(csvCell("退款 refund")).toBe("退款 refund");
    expect(csvLine(["a", 1, null])).toBe("a,1,\r\n");
  });
});

describe("csvStream", () => {
  it("asks for each page after the last row of the one before, and ends on an empty page", async () => {
    const asked: (number | undefined)[] = [];
    const pages = [[1, 2], [3], []];
    const stream = csvStream<number>(
      ["n"],
      (n) => [n],
      async (after) => {
        asked.push(after);
        return pages.shift() ?? [];
      },
    );
    expect(await new Response(stream).text()).toBe("n\r\n1\r\n2\r\n3\r\n");
    expect(asked).toEqual([undefined, 2, 3]);
  });
});

it("flattens nested figures into dotted columns", () => {
  expect(flatten({ key: "k", firstResponseS: { avg: 1, p50: 2 }, csat: { avg: null } })).toEqual({
    key: "k",
    "firstResponseS.avg": 1,
    "firstResponseS.p50": 2,
    "csat.avg": null,
  });
});
