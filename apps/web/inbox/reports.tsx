import { useEffect, useMemo, useRef, useState } from "react";
import { can } from "../../../platform/permission.ts";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { clock, useI18n } from "./i18n.ts";
import type { Series } from "./report-charts.ts";
import { hourLabel, periodOf, type Preset } from "./report-period.ts";
import { ReportSchedules, SCHEDULE_GROUPS } from "./report-schedules.tsx";
import { AgentsTable, CsvLink, SummaryTable, type AgentRow, type SummaryRow } from "./report-tables.tsx";
import { useWorkspace } from "./workspace.tsx";

type Summary = { groupBy: string; tz: string; rows: SummaryRow[]; total: SummaryRow | null };
type Group = (typeof SCHEDULE_GROUPS)[number];
const FILTER_NAMES = ["queueId", "agentId", "teamId", "channel"] as const;
type FilterName = (typeof FILTER_NAMES)[number];
type Loaded = { group: Summary; trend: Summary; heat: Summary; queues: Summary; agents: AgentRow[] };

/**
 * Reports (reports.read): a period in the workspace's time zone, a grouping and filters; trends, the
 * weekday × hour heat map of offered work, the table of the chosen grouping, the queues' and the
 * agents' tables, each with its CSV; and the scheduled e-mails (reports.schedule).
 */
export function ReportsPage() {
  const { t, locale } = useI18n();
  const { me, users, teams, queues, inboxes } = useWorkspace();
  const [tz, setTz] = useState<string | null>(null);
  const [preset, setPreset] = useState<Preset>("7d");
  const [custom, setCustom] = useState(() => ({ from: "", to: "" }));
  const [groupBy, setGroupBy] = useState<Group>("day");
  const [filters, setFilters] = useState<Partial<Record<FilterName, string>>>({});
  const [data, setData] = useState<Loaded | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [failed, setFailed] = useState(false);

  // The workspace's time zone is the summary's default `tz`: learnt from an empty minute's summary.
  useEffect(() => {
    const now = Date.now();
    const q = new URLSearchParams({
      from: new Date(now - 60_000).toISOString(),
      to: new Date(now).toISOString(),
      groupBy: "channel",
    });
    request<Summary>(`/reports/summary?${q}`).then(
      (s) => setTz(s.tz),
      (e) => (e instanceof ApiError && e.status === 403 ? setForbidden(true) : setFailed(true)),
    );
  }, []);

  const period = useMemo(() => (tz ? periodOf(preset, tz, custom) : null), [tz, preset, custom]);
  const filterQuery = useMemo(() => {
    const q = new URLSearchParams();
    for (const name of FILTER_NAMES) if (filters[name]) q.set(name, filters[name]!);
    return q;
  }, [filters]);
  const query = (extra: Record<string, string>) => {
    const q = new URLSearchParams(filterQuery);
    q.set("from", period!.from.toISOString());
    q.set("to", period!.to.toISOString());
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q.toString();
  };
  // A day or two is drawn by the hour, longer periods by the day.
  const trendGroup =
    period && period.to.getTime() - period.from.getTime() <= 2 * 86_400_000 + 3_600_000 ? "hour" : "day";

  useEffect(() => {
    if (!period) return;
    let stale = false;
    const summary = (g: string) => request<Summary>(`/reports/summary?${query({ groupBy: g })}`);
    Promise.all([
      summary(groupBy),
      summary(trendGroup!),
      summary("weekday_hour"),
      summary("queue"),
      request<{ rows: AgentRow[] }>(`/reports/agents?${query({})}`),
    ]).then(
      ([group, trend, heat, queueRows, agents]) =>
        !stale && setData({ group, trend, heat, queues: queueRows, agents: agents.rows }),
      () => !stale && setFailed(true),
    );
    return () => {
      stale = true;
    };
  }, [period?.from.getTime(), period?.to.getTime(), groupBy, filterQuery.toString()]);

  // Every bucket of the period on the trend's axis, an empty one as no work (0) and no figures (null).
  const trendRows = useMemo(() => {
    if (!data || !period) return [];
    const byKey = new Map(data.trend.rows.map((r) => [r.key, r]));
    const keys: string[] = [];
    if (data.trend.groupBy === "hour")
      for (let t = period.from.getTime(); t < period.to.getTime(); t += 3_600_000)
        keys.push(new Date(t).toISOString().replace(".000Z", "Z"));
    else
      for (let d = Date.parse(period.firstDay); d <= Date.parse(period.lastDay); d += 86_400_000)
        keys.push(new Date(d).toISOString().slice(0, 10));
    return keys.map((key) => byKey.get(key) ?? emptyRow(key));
  }, [data, period]);

  if (forbidden) return <p className="notice">{t("reports.forbidden")}</p>;
  const channels = [...new Set(inboxes.map((i) => i.channel))];
  const named = (list: { id: string; name: string }[], id: string | null) =>
    list.find((x) => x.id === id)?.name ?? t("reports.none");
  const labelOf = (g: string) => (r: SummaryRow) => {
    if (r.key === null) return t("reports.none");
    if (g === "hour") return hourLabel(r.key, tz!);
    if (g === "channel") return t(`channel.${r.key}` as MessageKey);
    if (r.name !== undefined) return r.name ?? t("reports.none");
    return r.key;
  };
  const filterSelect = (name: FilterName, label: MessageKey, options: { id: string; name: string }[]) => (
    <label className="field">
      <span>{t(label)}</span>
      <select
        data-testid={`report-filter-${name}`}
        value={filters[name] ?? ""}
        onChange={(e) => setFilters({ ...filters, [name]: e.target.value || undefined })}
      >
        <option value="">{t("reports.any")}</option>
        {options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <div className="reports" data-testid="reports">
      <h1>{t("reports.title")}</h1>
      <form className="row-form" aria-label={t("reports.period")} onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          <span>{t("reports.period")}</span>
          <select
            data-testid="report-preset"
            value={preset}
            onChange={(e) => {
              const next = e.target.value as Preset;
              // A custom period starts from the one shown.
              if (next === "custom" && period) setCustom({ from: period.firstDay, to: period.lastDay });
              setPreset(next);
            }}
          >
            <option value="today">{t("reports.today")}</option>
            <option value="yesterday">{t("reports.yesterday")}</option>
            <option value="7d">{t("reports.last7")}</option>
            <option value="30d">{t("reports.last30")}</option>
            <option value="custom">{t("reports.custom")}</option>
          </select>
        </label>
        {preset === "custom" && (
          <>
            <label className="field">
              <span>{t("reports.from")}</span>
              <input
                type="date"
                data-testid="report-from"
                value={custom.from}
                onChange={(e) => setCustom({ ...custom, from: e.target.value })}
              />
            </label>
            <label className="field">
              <span>{t("reports.to")}</span>
              <input
                type="date"
                data-testid="report-to"
                value={custom.to}
                onChange={(e) => setCustom({ ...custom, to: e.target.value })}
              />
            </label>
          </>
        )}
        <label className="field">
          <span>{t("reports.groupBy")}</span>
          <select data-testid="report-group" value={groupBy} onChange={(e) => setGroupBy(e.target.value as Group)}>
            {SCHEDULE_GROUPS.map((g) => (
              <option key={g} value={g}>
                {t(`reports.group.${g}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        {filterSelect("queueId", "reports.group.queue", queues)}
        {filterSelect("agentId", "reports.group.agent", users)}
        {filterSelect("teamId", "reports.group.team", teams)}
        {filterSelect(
          "channel",
          "reports.group.channel",
          channels.map((c) => ({ id: c, name: t(`channel.${c}` as MessageKey) })),
        )}
        {tz && <span className="muted">{t("reports.timeZone", { tz })}</span>}
      </form>
      {failed && <p className="error">{t("error.generic")}</p>}
      {tz && !period && <p className="error">{t("reports.badPeriod")}</p>}
      {period && !data && !failed && <p className="muted">{t("reports.loading")}</p>}
      {period && data && (
        <>
          <div className="report-charts">
            <Trend
              title={t("reports.volume")}
              testId="report-volume"
              labels={trendRows.map(labelOf(data.trend.groupBy))}
              series={[
                { name: t("reports.col.offered"), data: trendRows.map((r) => r.offered) },
                { name: t("reports.col.answered"), data: trendRows.map((r) => r.answered) },
                { name: t("reports.col.abandoned"), data: trendRows.map((r) => r.abandoned) },
              ]}
              locale={locale}
            />
            <Trend
              title={t("reports.speed")}
              testId="report-speed"
              labels={trendRows.map(labelOf(data.trend.groupBy))}
              series={[
                { name: t("reports.col.asa"), data: trendRows.map((r) => r.asaS) },
                { name: t("reports.col.aht"), data: trendRows.map((r) => r.ahtS) },
                { name: t("reports.col.serviceLevel"), data: trendRows.map((r) => r.serviceLevel), axis: 1 },
              ]}
              seconds
              locale={locale}
            />
            <Heatmap rows={data.heat.rows} title={t("reports.heatmap")} locale={locale} />
          </div>
          <section aria-labelledby="report-group-title">
            <h2 id="report-group-title">
              {t("reports.byGroup", { group: t(`reports.group.${data.group.groupBy}` as MessageKey) })}{" "}
              <CsvLink path={`/reports/summary?${query({ groupBy, format: "csv" })}`} testId="csv-group" />
            </h2>
            <SummaryTable
              rows={data.group.rows}
              total={data.group.total}
              label={labelOf(data.group.groupBy)}
              heading={t(`reports.group.${data.group.groupBy}` as MessageKey)}
              testId="report-group-table"
            />
          </section>
          <section aria-labelledby="report-queue-title">
            <h2 id="report-queue-title">
              {t("reports.byQueue")}{" "}
              <CsvLink path={`/reports/summary?${query({ groupBy: "queue", format: "csv" })}`} testId="csv-queue" />
            </h2>
            <SummaryTable
              rows={data.queues.rows}
              total={null}
              label={(r) => r.name ?? named(queues, r.key)}
              heading={t("reports.group.queue")}
              testId="report-queue-table"
            />
          </section>
          <section aria-labelledby="report-agents-title">
            <h2 id="report-agents-title">
              {t("reports.byAgent")}{" "}
              <CsvLink path={`/reports/agents?${query({ format: "csv" })}`} testId="csv-agents" />
            </h2>
            <AgentsTable rows={data.agents} />
          </section>
        </>
      )}
      {can(me, "reports.schedule") && (
        <ReportSchedules
          filters={Object.fromEntries(FILTER_NAMES.filter((n) => filters[n]).map((n) => [n, [filters[n]!]]))}
        />
      )}
    </div>
  );
}

const emptyRow = (key: string): SummaryRow => ({
  key,
  offered: 0,
  answered: 0,
  abandoned: 0,
  serviceLevel: null,
  asaS: null,
  ahtS: null,
  firstResponseS: { avg: null, p50: null, p90: null },
  resolutionS: { avg: null },
  transferRate: null,
  fcrRate: null,
  csat: { avg: null, responses: 0 },
});

/** Draws with ECharts once the chunk is loaded (the charts load only with this screen). */
function useChart(
  draw: (el: HTMLElement, charts: typeof import("./report-charts.ts")) => { dispose(): void; resize(): void },
  deps: unknown[],
) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let disposed = false;
    let chart: { dispose(): void; resize(): void } | undefined;
    const onResize = () => chart?.resize();
    void import("./report-charts.ts").then((charts) => {
      if (disposed || !box.current) return;
      chart = draw(box.current, charts);
      addEventListener("resize", onResize);
    });
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
      chart?.dispose();
    };
  }, deps);
  return box;
}

function Trend(props: {
  title: string;
  testId: string;
  labels: string[];
  series: Series[];
  seconds?: boolean;
  locale: string;
}) {
  const { percent, number } = useI18n();
  const box = useChart(
    (el, charts) =>
      charts.drawLines(el, props.labels, props.series, props.locale, {
        left: props.seconds ? (v) => clock(v) : (v) => number(v),
        right: props.seconds ? (v) => percent(v) : undefined,
      }),
    [JSON.stringify([props.labels, props.series]), props.locale],
  );
  return (
    <section className="report-chart">
      <h2>{props.title}</h2>
      <div ref={box} className="chart" role="img" aria-label={props.title} data-testid={props.testId} />
    </section>
  );
}

/** Offered by ISO weekday (keys `1-09`: Monday, 09:00) × hour. */
function Heatmap({ rows, title, locale }: { rows: SummaryRow[]; title: string; locale: string }) {
  const { t } = useI18n();
  const weekdays = [1, 2, 3, 4, 5, 6, 7].map((d) => t(`reports.weekday.${d}` as MessageKey));
  const cells = rows.flatMap((r): [number, number, number][] => {
    const m = /^(\d)-(\d{2})$/.exec(r.key ?? "");
    return m ? [[Number(m[2]), Number(m[1]) - 1, r.offered]] : [];
  });
  const box = useChart(
    (el, charts) => charts.drawHeatmap(el, weekdays, cells, locale),
    [JSON.stringify(cells), locale],
  );
  return (
    <section className="report-chart">
      <h2>{title}</h2>
      <div
        ref={box}
        className="chart heatmap"
        role="img"
        aria-label={title}
        data-testid="report-heatmap"
        data-cells={cells.length}
      />
    </section>
  );
}
