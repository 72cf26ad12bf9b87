import type { MouseEvent } from "react";
import type { MessageKey } from "./catalog.ts";
import { session } from "./client.ts";
import { clock, useI18n } from "./i18n.ts";

/** A summary row as GET /reports/summary answers it; null = no data. */
export type SummaryRow = {
  key: string | null;
  name?: string | null;
  offered: number;
  answered: number;
  abandoned: number;
  serviceLevel: number | null;
  asaS: number | null;
  ahtS: number | null;
  firstResponseS: { avg: number | null; p50: number | null; p90: number | null };
  resolutionS: { avg: number | null };
  transferRate: number | null;
  fcrRate: number | null;
  csat: { avg: number | null; responses: number };
};

/** A row of GET /reports/agents. */
export type AgentRow = {
  key: string;
  name: string | null;
  states: { presence: string; reason: string | null; seconds: number }[];
  occupancy: number | null;
  utilisation: number | null;
  answered: number;
  asaS: number | null;
  ahtS: number | null;
  firstResponseS: number | null;
  csat: { avg: number | null; responses: number };
};

export const DASH = "—";

/** The figures' formats: seconds as m:ss, rates as %, a figure without data as —. */
export function useFigures() {
  const { percent } = useI18n();
  return {
    seconds: (s: number | null | undefined) => (s == null ? DASH : clock(s)),
    rate: (r: number | null | undefined) => (r == null ? DASH : percent(r)),
    csat: (c: { avg: number | null; responses: number }) =>
      c.avg == null ? DASH : `${c.avg.toFixed(2)} (${c.responses})`,
  };
}

/**
 * A CSV export of a table: the API's `format=csv` answer, fetched with the session's token (a plain
 * link would carry none) and saved under the name the server gives it.
 */
export function CsvLink({ path, testId }: { path: string; testId: string }) {
  const { t } = useI18n();
  const download = async (e: MouseEvent) => {
    e.preventDefault();
    const res = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${session.token ?? ""}` } });
    if (!res.ok) return;
    const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? "report.csv";
    const url = URL.createObjectURL(await res.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <a href={`/api/v1${path}`} className="csv-link" onClick={download} data-testid={testId}>
      {t("reports.csv")}
    </a>
  );
}

/** The columns every summary table shows, in order. */
function summaryCells(r: SummaryRow, f: ReturnType<typeof useFigures>) {
  return [
    r.offered,
    r.answered,
    r.abandoned,
    f.rate(r.serviceLevel),
    f.seconds(r.asaS),
    f.seconds(r.ahtS),
    f.seconds(r.firstResponseS.avg),
    f.seconds(r.firstResponseS.p90),
    f.seconds(r.resolutionS.avg),
    f.rate(r.transferRate),
    f.rate(r.fcrRate),
    f.csat(r.csat),
  ];
}
const SUMMARY_COLUMNS: MessageKey[] = [
  "reports.col.offered",
  "reports.col.answered",
  "reports.col.abandoned",
  "reports.col.serviceLevel",
  "reports.col.asa",
  "reports.col.aht",
  "reports.col.firstResponse",
  "reports.col.firstResponseP90",
  "reports.col.resolution",
  "reports.col.transferRate",
  "reports.col.fcr",
  "reports.col.csat",
];

export function SummaryTable({
  rows,
  total,
  label,
  heading,
  testId,
}: {
  rows: SummaryRow[];
  total: SummaryRow | null;
  /** How a row's key reads (a date, an hour, a channel, a name). */
  label(r: SummaryRow): string;
  heading: string;
  testId: string;
}) {
  const { t } = useI18n();
  const f = useFigures();
  if (!rows.length) return <p className="empty">{t("reports.empty")}</p>;
  return (
    <div className="table-scroll">
      <table className="grid" data-testid={testId}>
        <thead>
          <tr>
            <th>{heading}</th>
            {SUMMARY_COLUMNS.map((k) => (
              <th key={k}>{t(k)}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key ?? "none"}>
              <th scope="row">{label(r)}</th>
              {summaryCells(r, f).map((c, i) => (
                <td key={i}>{c}</td>
              ))}
            </tr>
          ))}
        </tbody>
        {total && (
          <tfoot>
            <tr>
              <th scope="row">{t("reports.total")}</th>
              {summaryCells(total, f).map((c, i) => (
                <td key={i}>{c}</td>
              ))}
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}

const PRESENCES = ["available", "busy", "away", "wrap_up", "offline"];

export function AgentsTable({ rows }: { rows: AgentRow[] }) {
  const { t } = useI18n();
  const f = useFigures();
  if (!rows.length) return <p className="empty">{t("reports.empty")}</p>;
  const stateName = (s: AgentRow["states"][number]) => {
    const name = PRESENCES.includes(s.presence) ? t(`reports.state.${s.presence}` as MessageKey) : s.presence;
    return s.reason ? `${name} (${s.reason})` : name;
  };
  return (
    <div className="table-scroll">
      <table className="grid" data-testid="report-agents">
        <thead>
          <tr>
            <th>{t("reports.group.agent")}</th>
            <th>{t("reports.col.answered")}</th>
            <th>{t("reports.col.asa")}</th>
            <th>{t("reports.col.aht")}</th>
            <th>{t("reports.col.firstResponse")}</th>
            <th>{t("reports.col.occupancy")}</th>
            <th>{t("reports.col.utilisation")}</th>
            <th>{t("reports.col.states")}</th>
            <th>{t("reports.col.csat")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.name ?? t("reports.none")}</th>
              <td>{r.answered}</td>
              <td>{f.seconds(r.asaS)}</td>
              <td>{f.seconds(r.ahtS)}</td>
              <td>{f.seconds(r.firstResponseS)}</td>
              <td>{f.rate(r.occupancy)}</td>
              <td>{f.rate(r.utilisation)}</td>
              <td>{r.states.length ? r.states.map((s) => `${stateName(s)} ${clock(s.seconds)}`).join(" · ") : DASH}</td>
              <td>{f.csat(r.csat)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
