import { describe, expect, it } from "bun:test";
import { findPii, isCardNumber, isResidentId, luhn, maskDeep, maskFor, maskPii, residentIdCheck } from "./pii.ts";

/** A resident ID with its real check character: region, birth date, sequence. */
const idOf = (first17: string) => first17 + residentIdCheck(first17);
const ID_X = idOf("11010519491231002"); // the standard's own example, check character X
const ID_DIGIT = idOf("44030419900307123");

describe("resident ID numbers (GB 11643)", () => {
  it("computes the ISO 7064 MOD 11-2 check character, X included", () => {
    expect(ID_X).toBe("11010519491231002X");
    expect(isResidentId(ID_X)).toBe(true);
    expect(isResidentId(ID_X.toLowerCase())).toBe(true);
    expect(isResidentId(ID_DIGIT)).toBe(true);
  });

  it("refuses a wrong check character, an impossible birth date and an unknown region", () => {
    const wrong = ID_DIGIT.slice(0, 17) + ((Number(ID_DIGIT[17]) + 1) % 10);
    expect(isResidentId(wrong)).toBe(false);
    expect(isResidentId(idOf("11010519490231002"))).toBe(false); // 31 February
    expect(isResidentId(idOf("11010518491231002"))).toBe(false); // born 1849
    expect(isResidentId(idOf("99010519491231002"))).toBe(false); // region 99
  });

  it("masks as the first 6, eight stars and the last 4", () => {
    expect(maskPii(`身份证号${ID_X}，请核实`)).toBe("身份证号110105********002X，请核实");
    expect(maskPii(`ID: ${ID_DIGIT}.`)).toBe(`ID: ${ID_DIGIT.slice(0, 6)}********${ID_DIGIT.slice(14)}.`);
    expect(maskPii("身份证 110105 19491231 002X 已核实")).toBe("身份证 110105 ******** 002X 已核实");
    expect(maskPii("110105-19491231-002X")).toBe("110105-********-002X");
  });
});

describe("bank cards (Luhn)", () => {
  it("finds valid numbers whole, spaced or dashed, and refuses a wrong check digit", () => {
    expect(luhn("4111111111111111")).toBe(true);
    expect(isCardNumber("4111111111111112")).toBe(false);
    const unionPay = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => `622202123456789012${d}`).find(luhn)!;
    const spaced = unionPay.replace(/(\d{4})(?=\d)/g, "$1 ");
    for (const card of ["4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", unionPay, spaced]) {
      expect(isCardNumber(card)).toBe(true);
      expect(findPii(`card ${card} thanks`)).toEqual([{ kind: "card", start: 5, end: 5 + card.length, text: card }]);
    }
    expect(findPii("card 4111111111111112 thanks")).toEqual([]);
  });

  it("masks all but the first 6 and last 4 digits, keeping the separators", () => {
    expect(maskPii("4111 1111 1111 1111")).toBe("4111 11** **** 1111");
    expect(maskPii("卡号4111111111111111")).toBe("卡号411111******1111");
    expect(maskPii("amex 3782 822463 10005")).toBe("amex 3782 82**** *0005");
  });

  it("takes no order number, timestamp, SID or part of a longer number for a card", () => {
    const luhnValid = (prefix: string) => {
      for (let d = 0; d < 10; d++) if (luhn(prefix + d)) return prefix + d;
      throw new Error("unreachable");
    };
    // Order numbers and millisecond timestamps start with 1 or 2 (no card network's digits).
    expect(findPii(`order ${luhnValid("20261208123456789")} shipped`)).toEqual([]);
    expect(findPii(`at ${luhnValid("176515743500")}`)).toEqual([]);
    expect(findPii("SM4111111111111111 and 4111111111111111999 and x4111111111111111")).toEqual([]);
    expect(findPii("uuid 41111111-1111-1111-1111-111111111111")).toEqual([]);
  });
});

describe("phones and emails", () => {
  it("finds mainland mobiles with or without +86 and E.164 numbers, masked 138****5678", () => {
    expect(maskPii("电话13812345678")).toBe("电话138****5678");
    expect(maskPii("call +86 138 1234 5678")).toBe("call +86 138 **** 5678");
    expect(maskPii("+8613812345678")).toBe("+86138****5678");
    expect(maskPii("+1 415 555 0100")).toBe("+1 41* *** 0100");
    expect(findPii("12345678901 and 1381234567890").map((s) => s.kind)).toEqual([]);
  });

  it("masks emails as z***@example.com", () => {
    expect(maskPii("write to zhang.san@example.com today")).toBe("write to z***@example.com today");
  });
});

describe("masking rules", () => {
  it("masks only the kinds asked for, and returns text without any as it was", () => {
    const text = `ID ${ID_X}, card 4111111111111111, tel 13812345678, mail a@b.cn`;
    expect(maskPii(text, ["id", "card"])).toBe(
      "ID 110105********002X, card 411111******1111, tel 13812345678, mail a@b.cn",
    );
    expect(maskPii(text)).toBe("ID 110105********002X, card 411111******1111, tel 138****5678, mail a***@b.cn");
    const plain = "no personal data here, order 12345";
    expect(maskPii(plain)).toBe(plain);
  });

  it("an ID number is never read as a card, even when its digits pass Luhn", () => {
    const ids = Array.from({ length: 200 }, (_, n) => idOf(`44030419900307${String(n).padStart(3, "0")}`));
    const alsoLuhn = ids.find((id) => /^\d+$/.test(id) && luhn(id) && isCardNumber(id));
    expect(alsoLuhn).toBeDefined();
    expect(findPii(alsoLuhn!)).toEqual([{ kind: "id", start: 0, end: 18, text: alsoLuhn! }]);
    expect(findPii(alsoLuhn!, ["card"])).toEqual([]);
  });

  it("masks every string in a JSON value and keeps an untouched value the same object", () => {
    const item = { id: "x", text: `身份证${ID_X}`, data: { notes: ["card 4111111111111111"] }, seq: 4111111111111111 };
    expect(maskDeep(item, ["id", "card"])).toEqual({
      id: "x",
      text: "身份证110105********002X",
      data: { notes: ["card 411111******1111"] },
      seq: 4111111111111111,
    });
    const delivered = { externalId: "4111111111111111", text: "ok" };
    expect(maskDeep(delivered)).toBe(delivered);
    const clean = { text: "hello" };
    expect(maskDeep(clean)).toBe(clean);
  });

  it("agents see IDs and cards masked, exports mask all four; supervisors and admins see all", () => {
    expect(maskFor({ role: "agent" }, "view")).toEqual(["id", "card"]);
    expect(maskFor({ role: "agent" }, "export")).toEqual(["id", "card", "phone", "email"]);
    expect(maskFor({ role: "supervisor" }, "view")).toEqual([]);
    expect(maskFor({ role: "admin" }, "export")).toEqual([]);
  });
});
