import { describe, expect, it } from "bun:test";
import { csvCell } from "./audit.ts";

describe("audit CSV cells", () => {
  it("quotes every cell and defuses spreadsheet formulas (=, +, -, @)", () => {
    expect(csvCell("plain")).toBe('"plain"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    for (const lead of ["=", "+", "-", "@"]) expect(csvCell(`${lead}1+1`)).toBe(`"'${lead}1+1"`);
    expect(csvCell(null)).toBe('""');
    expect(csvCell({ ids: ["a"] })).toBe('"{""ids"":[""a""]}"');
  });
});
