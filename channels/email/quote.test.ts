import { describe, expect, it } from "bun:test";
import { splitQuoted } from "./quote.ts";

describe("splitQuoted", () => {
  it("separates Gmail's quoted history", () => {
    const r = splitQuoted(
      "Thanks, that worked!\n\nOn Tue, 3 Mar 2026 at 10:00, Support <support@acme.test> wrote:\n> Try turning it off and on.\n",
    );
    expect(r.text).toBe("Thanks, that worked!");
    expect(r.quoted).toContain("Try turning it off");
  });
  it("separates Apple Mail's two-line attribution", () => {
    const r = splitQuoted(
      "Yes please.\n\nOn 3 Mar 2026, at 10:00, Support Team\n<support@acme.test> wrote:\n\n> Shall we?",
    );
    expect(r.text).toBe("Yes please.");
  });
  it("separates Outlook's header block and its Chinese variant", () => {
    expect(
      splitQuoted("Fine.\n\nFrom: Support <s@acme.test>\nSent: Tuesday\nTo: Ann\nSubject: RE: x\n\nold").text,
    ).toBe("Fine.");
    expect(
      splitQuoted("好的，谢谢\n\n发件人: Support <s@acme.test>\n发送时间: 2026年3月3日\n收件人: 安\n\n旧内容").text,
    ).toBe("好的，谢谢");
    expect(splitQuoted("Ok\n-----Original Message-----\nFrom: x").text).toBe("Ok");
  });
  it("separates Foxmail's and Chinese Gmail's markers", () => {
    expect(splitQuoted("收到\n\n------------------ 原始邮件 ------------------\n发件人: x").text).toBe("收到");
    expect(splitQuoted("收到\n\n在 2026年3月3日 10:00，Support <s@acme.test> 写道：\n> 旧").text).toBe("收到");
  });
  it("splits off a signature after the '-- ' line", () => {
    const r = splitQuoted("See attached.\n-- \nAnn Lee\nAcme Corp");
    expect(r).toEqual({ text: "See attached.", quoted: null, signature: "Ann Lee\nAcme Corp" });
  });
  it("keeps a mail that is only a quote as its text rather than show nothing", () => {
    expect(splitQuoted("> forwarded line\n> another").text).toContain("forwarded line");
  });
  it("leaves text without markers alone", () => {
    expect(splitQuoted("Hello,\nmy order is late.\n")).toEqual({
      text: "Hello,\nmy order is late.",
      quoted: null,
      signature: null,
    });
  });
});
