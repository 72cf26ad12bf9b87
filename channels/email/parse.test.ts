import { describe, expect, it } from "bun:test";
import type { Readable } from "node:stream";
import { parseEmail, toInbound, type AttachmentSink } from "./parse.ts";

const crlf = (lines: string[]) => lines.join("\r\n");

/** A sink that records what it was given, reading every stream to its end like the store does. */
function memorySink() {
  const files: { name: string; contentType: string; contentId?: string; bytes: number }[] = [];
  const sink: AttachmentSink = async (file, content: Readable) => {
    let bytes = 0;
    for await (const chunk of content) bytes += (chunk as Buffer).length;
    files.push({ ...file, bytes });
    return { id: crypto.randomUUID(), url: `/files/${files.length}` };
  };
  return { files, sink };
}

describe("parseEmail", () => {
  it("decodes GBK, GB2312, Big5 and ISO-2022-JP bodies and encoded-word headers", async () => {
    const cases = [
      ["gbk", "xPq6w6Ostqm1pcO709C3orv1", "您好，订单没有发货"],
      ["gb2312", "zcu/7snqx+s=", "退款申请"],
      ["big5", "vdCw3abzrsmlWLNm", "請問何時出貨"],
      ["iso-2022-jp", "GyRCQ21KOCRLJEQkJCRGGyhC", "注文について"],
    ] as const;
    for (const [charset, b64, expected] of cases) {
      const mail = await parseEmail(
        Buffer.from(
          crlf([
            `From: =?${charset}?B?${b64}?= <c@x.test>`,
            "To: support@acme.test",
            `Subject: =?${charset}?B?${b64}?=`,
            "Message-ID: <m@x>",
            `Content-Type: text/plain; charset=${charset}`,
            "Content-Transfer-Encoding: base64",
            "",
            b64,
            "",
          ]),
        ),
      );
      expect(mail.subject).toBe(expected);
      expect(mail.text).toBe(expected);
      expect(mail.from).toEqual({ address: "c@x.test", name: expected });
    }
  });

  it("survives an unknown charset and malformed MIME without throwing", async () => {
    const bad = await parseEmail(
      Buffer.from(
        crlf([
          "From: a@x.test",
          "Subject: hi",
          "Content-Type: text/plain; charset=x-no-such-charset",
          "",
          "plain words",
          "",
        ]),
      ),
    );
    expect(bad.text).toContain("plain words");
    const broken = await parseEmail(
      Buffer.from(
        crlf([
          "From: a@x.test",
          'Content-Type: multipart/mixed; boundary="never-closed"',
          "",
          "--never-closed",
          "Content-Type: text/plain",
          "",
          "half a mail",
        ]),
      ),
    );
    expect(broken.from?.address).toBe("a@x.test");
    const garbage = await parseEmail(Buffer.from("\u0000\u0001 not a mail at all \r\n\r\n\u00ff"));
    expect(garbage.from).toBeUndefined();
  });

  it("keys a mail without Message-ID by a hash of its bytes, the same on every delivery", async () => {
    const raw = Buffer.from(crlf(["From: a@x.test", "Subject: no id", "", "body", ""]));
    const a = await parseEmail(raw);
    const b = await parseEmail(raw);
    expect(a.messageId).toBeUndefined();
    expect(a.externalId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.externalId).toBe(a.externalId);
  });

  it("sanitizes HTML: no scripts, handlers or remote images, and cid images point at stored files", async () => {
    const { sink } = memorySink();
    const mail = await parseEmail(
      Buffer.from(
        crlf([
          "From: a@x.test",
          "Message-ID: <h@x>",
          'Content-Type: multipart/related; boundary="r"',
          "",
          "--r",
          "Content-Type: text/html; charset=utf-8",
          "",
          '<p onclick="steal()">Hi<script>alert(1)</script><img src="https://tracker.test/p.gif" alt="pixel"><img src="cid:logo@x"><a href="javascript:alert(1)">x</a></p>',
          "--r",
          "Content-Type: image/png",
          "Content-ID: <logo@x>",
          "Content-Disposition: inline",
          "Content-Transfer-Encoding: base64",
          "",
          Buffer.from("png bytes").toString("base64"),
          "--r--",
          "",
        ]),
      ),
      sink,
    );
    expect(mail.html).not.toContain("script");
    expect(mail.html).not.toContain("onclick");
    expect(mail.html).not.toContain("tracker.test");
    expect(mail.html).not.toContain("javascript:");
    expect(mail.html).toContain('src="/files/1"');
    expect(mail.text).toContain("Hi");
  });

  it("streams attachments to the sink and lists those past the count limit as skipped", async () => {
    const { files, sink } = memorySink();
    const parts = Array.from({ length: 22 }, (_, i) => [
      "--b",
      `Content-Type: application/pdf; name="f${i}.pdf"`,
      "Content-Disposition: attachment",
      "Content-Transfer-Encoding: base64",
      "",
      Buffer.alloc(1000, i).toString("base64"),
    ]).flat();
    const mail = await parseEmail(
      Buffer.from(
        crlf([
          "From: a@x.test",
          "Message-ID: <att@x>",
          'Content-Type: multipart/mixed; boundary="b"',
          "",
          "--b",
          "Content-Type: text/plain",
          "",
          "see files",
          ...parts,
          "--b--",
          "",
        ]),
      ),
      sink,
    );
    expect(files.length).toBe(20);
    expect(files[0]).toMatchObject({ name: "f0.pdf", contentType: "application/pdf", bytes: 1000 });
    expect(mail.attachments.length).toBe(20);
    expect(mail.skipped.map((s) => s.name)).toEqual(["f20.pdf", "f21.pdf"]);
  });

  it("marks auto-replies, lists and bulk mail as automated, and spam as spam", async () => {
    const classOf = async (headers: string[]) =>
      (await parseEmail(Buffer.from(crlf(["From: a@x.test", ...headers, "", "x", ""])))).class;
    expect((await classOf(["Auto-Submitted: auto-replied"])).automated).toContain("Auto-Submitted");
    expect((await classOf(["Auto-Submitted: no"])).automated).toBeNull();
    expect((await classOf(["X-Autoreply: yes"])).automated).toBe("X-Autoreply");
    expect((await classOf(["Precedence: bulk"])).automated).toBe("Precedence: bulk");
    expect((await classOf(["List-Id: <news.x.test>"])).automated).toBe("List-Id");
    expect((await classOf(["X-Spam-Flag: YES"])).spam).toBe(true);
    expect(await classOf([])).toEqual({ automated: null, spam: false, bounce: false });
  });

  it("reads a bounce (DSN): the original Message-ID, the recipient and the reason", async () => {
    const mail = await parseEmail(
      Buffer.from(
        crlf([
          "From: Mail Delivery System <MAILER-DAEMON@mx.x.test>",
          "Subject: Undelivered Mail Returned to Sender",
          "Message-ID: <dsn@x>",
          'Content-Type: multipart/report; report-type=delivery-status; boundary="d"',
          "",
          "--d",
          "Content-Type: text/plain",
          "",
          "Your message could not be delivered.",
          "--d",
          "Content-Type: message/delivery-status",
          "",
          "Reporting-MTA: dns; mx.x.test",
          "",
          "Final-Recipient: rfc822; gone@x.test",
          "Action: failed",
          "Status: 5.1.1",
          "Diagnostic-Code: smtp; 550 5.1.1 user unknown",
          "--d",
          "Content-Type: text/rfc822-headers",
          "",
          "From: support@acme.test",
          "Message-ID: <ORIG-1@acme.test>",
          "Subject: Re: help",
          "--d--",
          "",
        ]),
      ),
    );
    expect(mail.class.bounce).toBe(true);
    expect(mail.bounce).toEqual({
      originalMessageId: "orig-1@acme.test",
      recipient: "gone@x.test",
      status: "5.1.1",
      reason: "5.1.1 550 5.1.1 user unknown",
    });
  });

  it("gives the core a NormalizedInbound with the timeline's email fields and the quote split off", async () => {
    const mail = await parseEmail(
      Buffer.from(
        crlf([
          'From: "Ann Lee" <Ann@X.test>',
          "To: support@acme.test, Bob <bob@x.test>",
          "Cc: carol@x.test",
          "Subject: Re: Order 42",
          "Message-ID: <r1@x>",
          "In-Reply-To: <o1@acme.test>",
          "References: <o0@acme.test> <o1@acme.test>",
          "Date: Tue, 03 Mar 2026 10:00:00 +0000",
          "",
          "Still waiting.",
          "",
          "On Mon, 2 Mar 2026, Support <support@acme.test> wrote:",
          "> We shipped it.",
          "",
        ]),
      ),
    );
    const inbound = toInbound(
      { ...mail, from: mail.from! },
      "00000000-0000-4000-8000-000000000000",
      new Date("2026-03-03T11:00:00Z"),
    );
    expect(inbound).toMatchObject({
      channel: "email",
      externalId: "r1@x",
      from: { kind: "email", value: "ann@x.test", displayName: "Ann Lee" },
      text: "Still waiting.",
      threadKey: "o0@acme.test",
      data: {
        subject: "Re: Order 42",
        from: "Ann Lee <ann@x.test>",
        to: ["support@acme.test", "Bob <bob@x.test>"],
        cc: ["carol@x.test"],
        quotedText: expect.stringContaining("We shipped it"),
      },
    });
    expect(mail.inReplyTo).toEqual(["o1@acme.test"]);
    expect(mail.references).toEqual(["o0@acme.test", "o1@acme.test"]);
  });

  it("keeps a mail to 10,000 recipients, listing only the first of them", async () => {
    const to = Array.from({ length: 10_000 }, (_, i) => `r${i}@x.test`).join(", ");
    const mail = await parseEmail(
      Buffer.from(crlf(["From: a@x.test", `To: ${to}`, "Message-ID: <many@x>", "", "hi", ""])),
    );
    expect(mail.to.length).toBe(10_000);
    const inbound = toInbound({ ...mail, from: mail.from! }, "00000000-0000-4000-8000-000000000000");
    expect((inbound.data!.to as string[]).length).toBe(50);
    expect(inbound.data!.recipientCount).toBe(10_000);
  });

  it("strips NUL bytes from every text a mail yields: raw 8-bit, quoted-printable, encoded words, names and ids", async () => {
    const mail = await parseEmail(
      Buffer.from(
        crlf([
          "From: =?utf-8?Q?Ann=00_Lee?= <ann@x.test>",
          "To: support@acme.test",
          "Subject: Order\u0000 42",
          "Message-ID: <nul\u0000-1@x.test>",
          "In-Reply-To: <o1\u0000@acme.test>",
          "MIME-Version: 1.0",
          'Content-Type: multipart/alternative; boundary="b"',
          "",
          "--b",
          "Content-Type: text/plain; charset=utf-8",
          "Content-Transfer-Encoding: 8bit",
          "",
          "Where\u0000 is it?",
          "--b",
          "Content-Type: text/html; charset=utf-8",
          "Content-Transfer-Encoding: quoted-printable",
          "",
          "<p>Where=00 is it?</p>",
          "--b--",
          "",
        ]),
      ),
    );
    const inbound = toInbound({ ...mail, from: mail.from! }, "00000000-0000-4000-8000-000000000000");
    expect(JSON.stringify({ inbound, mail })).not.toContain("\\u0000");
    expect(mail).toMatchObject({
      subject: "Order 42",
      text: "Where is it?",
      messageId: "nul-1@x.test",
      inReplyTo: ["o1@acme.test"],
    });
    expect(mail.from).toEqual({ address: "ann@x.test", name: "Ann Lee" });
    expect(mail.html).toContain("Where is it?");
  });
});
