import { describe, expect, it } from "bun:test";
import { minutesSeconds, percent, renderReportMail, type MailedRow } from "./schedule-render.ts";

const row = (key: string | null, f: Partial<MailedRow> = {}): MailedRow => ({
  key,
  offered: 4,
  answered: 3,
  abandoned: 1,
  serviceLevel: 0.755,
  asaS: 65,
  ahtS: 3725,
  firstResponseS: { avg: null },
  csat: { avg: 4.5, responses: 2 },
  ...f,
});

describe("the scheduled report's mail", () => {
  it("formats seconds as m:ss, rates as %, and a figure without data as —", () => {
    expect([minutesSeconds(65), minutesSeconds(3725), minutesSeconds(0), minutesSeconds(null)]).toEqual([
      "1:05",
      "1:02:05",
      "0:00",
      "—",
    ]);
    expect([percent(0.755), percent(1), percent(null)]).toEqual(["76%", "100%", "—"]);
  });

  it("writes a text and an HTML table with names for named groups and the total last, in English", () => {
    const mail = renderReportMail({
      name: "Team <b>A</b> & co",
      frequency: "weekly",
      groupBy: "agent",
      language: "en",
      timeZone: "Asia/Shanghai",
      firstDay: "2026-03-02",
      lastDay: "2026-03-08",
      rows: [row("u1", { name: "Ann" }), row(null, { name: null, answered: 0, asaS: null, ahtS: null })],
      total: row("total", { offered: 8 }),
    });
    expect(mail.subject).toBe("Team <b>A</b> & co (weekly report): 2026-03-02 – 2026-03-08");
    const lines = mail.text.split("\n");
    expect(lines).toContain("Period: 2026-03-02 – 2026-03-08 (time zone Asia/Shanghai) · Grouped by: agent");
    const cells = (start: string) =>
      lines
        .find((l) => l.startsWith(start))!
        .trim()
        .split(/\s{2,}/);
    expect(cells("Ann")).toEqual(["Ann", "4", "3", "1", "76%", "1:05", "1:02:05", "—", "4.50 (2)"]);
    expect(cells("(none)")).toEqual(["(none)", "4", "0", "1", "76%", "—", "—", "—", "4.50 (2)"]);
    expect(cells("Total")[1]).toBe("8");
    // The schedule's name is text in the HTML, never markup.
    expect(mail.html).toContain("Team &#60;b&#62;A&#60;/b&#62; &#38; co");
    expect(mail.html).not.toContain("<b>A</b>");
    expect(mail.html.match(/<tr>/g)!.length).toBe(4);
  });

  it("names channels and shows hours on the workspace's clock", () => {
    const base = { name: "R", frequency: "daily" as const, language: "zh-CN", timeZone: "Asia/Shanghai" };
    const days = { firstDay: "2026-03-09", lastDay: "2026-03-09", total: null };
    const byChannel = renderReportMail({ ...base, ...days, groupBy: "channel", rows: [row("webchat")] });
    expect(byChannel.text).toContain("网页聊天");
    const byHour = renderReportMail({ ...base, ...days, groupBy: "hour", rows: [row("2026-03-09T00:00:00Z")] });
    expect(byHour.text).toContain("2026-03-09 08:00");
  });

  it("says so when nothing was offered, in Chinese", () => {
    const mail = renderReportMail({
      name: "日报",
      frequency: "daily",
      groupBy: "queue",
      language: "zh-CN",
      timeZone: "Asia/Shanghai",
      firstDay: "2026-03-09",
      lastDay: "2026-03-09",
      rows: [],
      total: row("total", { offered: 0 }),
    });
    expect(mail.subject).toBe("日报 (日报): 2026-03-09");
    expect(mail.text).toContain("该时间段内没有会话或通话进线。");
    expect(mail.text).toContain("分组: 按队列");
    expect(mail.html).not.toContain("<table");
  });
});
