/**
 * What a scheduled report mail says: a subject, a plain-text table and the same table as simple HTML,
 * in English or Simplified Chinese. Pure: the rows come from the summary (reports/summary.ts).
 */

/** The figures of one summary row a mail shows; null = no data in the period. */
export type MailedRow = {
  key: string | null;
  name?: string | null;
  offered: number;
  answered: number;
  abandoned: number;
  serviceLevel: number | null;
  asaS: number | null;
  ahtS: number | null;
  firstResponseS: { avg: number | null };
  csat: { avg: number | null; responses: number };
};

type Language = "en" | "zh-CN";

const TEXTS = {
  en: {
    daily: "daily report",
    weekly: "weekly report",
    period: "Period",
    groupedBy: "Grouped by",
    timeZone: "time zone",
    total: "Total",
    none: "No conversations or calls were offered in this period.",
    attached: "All figures of each row are in the attached CSV; the reports manual defines each one.",
    noName: "(none)",
    groups: {
      day: "day",
      hour: "hour",
      channel: "channel",
      inbox: "inbox",
      queue: "queue",
      team: "team",
      agent: "agent",
    },
    channels: {
      webchat: "Web chat",
      email: "Email",
      voice: "Phone",
      wechat: "WeChat",
      slack: "Slack",
      sms: "SMS",
      whatsapp: "WhatsApp",
      telegram: "Telegram",
      api: "API",
    } as Record<string, string>,
    columns: ["", "Offered", "Answered", "Abandoned", "Service level", "ASA", "AHT", "First response", "CSAT"],
  },
  "zh-CN": {
    daily: "日报",
    weekly: "周报",
    period: "时间段",
    groupedBy: "分组",
    timeZone: "时区",
    total: "合计",
    none: "该时间段内没有会话或通话进线。",
    attached: "每行的全部指标见附件 CSV；各指标的定义见报表手册。",
    noName: "（无）",
    groups: {
      day: "按天",
      hour: "按小时",
      channel: "按渠道",
      inbox: "按接入渠道账号",
      queue: "按队列",
      team: "按团队",
      agent: "按坐席",
    },
    channels: {
      webchat: "网页聊天",
      email: "邮件",
      voice: "电话",
      wechat: "微信",
      slack: "Slack",
      sms: "短信",
      whatsapp: "WhatsApp",
      telegram: "Telegram",
      api: "API",
    } as Record<string, string>,
    columns: ["", "进线", "接通", "放弃", "服务水平", "平均应答时间", "平均处理时长", "首次响应", "满意度"],
  },
} as const;

export const DASH = "—";

/** Seconds as m:ss (h:mm:ss past an hour), the way the reports screen shows them. */
export function minutesSeconds(seconds: number | null) {
  if (seconds === null || !Number.isFinite(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  const pad = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export const percent = (rate: number | null) =>
  rate === null || !Number.isFinite(rate) ? DASH : `${Math.round(rate * 100)}%`;

const csat = (c: MailedRow["csat"]) => (c.avg === null ? DASH : `${c.avg.toFixed(2)} (${c.responses})`);

export function cells(row: MailedRow, label: string) {
  return [
    label,
    String(row.offered),
    String(row.answered),
    String(row.abandoned),
    percent(row.serviceLevel),
    minutesSeconds(row.asaS),
    minutesSeconds(row.ahtS),
    minutesSeconds(row.firstResponseS.avg),
    csat(row.csat),
  ];
}

const hourFormats = new Map<string, Intl.DateTimeFormat>();
/** An hour bucket's ISO start as "2026-03-09 08:00" on the workspace's clock. */
export function localHour(iso: string, timeZone: string) {
  let f = hourFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    hourFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Columns padded to their widest cell (by code points: a CJK cell is off by its width, still readable). */
function textTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "))
    .join("\n");
}

export type MailInput = {
  name: string;
  frequency: "daily" | "weekly";
  groupBy: keyof (typeof TEXTS)["en"]["groups"];
  language: string;
  timeZone: string;
  /** The period's first and last local dates, YYYY-MM-DD. */
  firstDay: string;
  lastDay: string;
  rows: MailedRow[];
  total: MailedRow | null;
};

export function renderReportMail(m: MailInput) {
  const t = TEXTS[(m.language === "zh-CN" ? "zh-CN" : "en") as Language];
  const period = m.firstDay === m.lastDay ? m.firstDay : `${m.firstDay} – ${m.lastDay}`;
  const subject = `${m.name} (${m.frequency === "weekly" ? t.weekly : t.daily}): ${period}`;
  const heading = `${t.period}: ${period} (${t.timeZone} ${m.timeZone}) · ${t.groupedBy}: ${t.groups[m.groupBy]}`;
  // Channels by their names, hours (ISO instants) as the workspace's local date and hour.
  const label = (r: MailedRow) =>
    m.groupBy === "channel" && r.key
      ? (t.channels[r.key] ?? r.key)
      : m.groupBy === "hour" && r.key
        ? localHour(r.key, m.timeZone)
        : (r.name ?? r.key ?? t.noName);
  const body = m.rows.map((r) => cells(r, label(r)));
  if (m.total) body.push(cells(m.total, t.total));
  const table = [t.columns.slice() as string[], ...body];
  const text = [m.name, heading, m.rows.length ? textTable(table) : t.none, t.attached].join("\n\n");
  const th = (c: string) =>
    `<th style="text-align:left;padding:4px 8px;border-bottom:1px solid #ccc">${escapeHtml(c)}</th>`;
  const td = (c: string, i: number) =>
    `<td style="padding:4px 8px;text-align:${i === 0 ? "left" : "right"}">${escapeHtml(c)}</td>`;
  const htmlTable = m.rows.length
    ? `<table style="border-collapse:collapse;font-family:sans-serif;font-size:14px">` +
      `<thead><tr>${table[0]!.map(th).join("")}</tr></thead>` +
      `<tbody>${body.map((r) => `<tr>${r.map(td).join("")}</tr>`).join("")}</tbody></table>`
    : `<p>${escapeHtml(t.none)}</p>`;
  const html = [
    `<h2 style="font-family:sans-serif">${escapeHtml(m.name)}</h2>`,
    `<p style="font-family:sans-serif">${escapeHtml(heading)}</p>`,
    htmlTable,
    `<p style="font-family:sans-serif;color:#555">${escapeHtml(t.attached)}</p>`,
  ].join("\n");
  return { subject, text, html };
}
