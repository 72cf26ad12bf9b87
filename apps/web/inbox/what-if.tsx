import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { MessageKey } from "./catalog.ts";
import { request } from "./client.ts";
import { Field, useSubmit } from "./admin/form.tsx";
import type { ReplayInterval } from "./forecast-chart.ts";
import { useI18n } from "./i18n.ts";
import { useWorkspace } from "./workspace.tsx";

type Figures = {
  offered: number;
  answered: number;
  abandoned: number;
  serviceLevel: number | null;
  asaS: number | null;
  abandonment: number | null;
};
type Replayed = Figures & { intervals: ReplayInterval[] };
type Result = { arrivals: number; change: unknown; actual: Figures; before: Replayed; after: Replayed };
type IntervalRow = { start: string; end: string; agents: string };
type QueueRow = { id: string; skills: string; after: string; action: "none" | "widen" | "move"; target: string };

const DAY = 86_400_000;
/** A Date as a datetime-local input's value, in the browser's zone. */
const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
const iso = (value: string) => new Date(value).toISOString();

/** "billing:3, english" → [{skill: "billing", minLevel: 3}, {skill: "english", minLevel: 1}] */
function parseSkills(text: string) {
  return text
    .split(/[,，]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [skill, level] = s.split(/[:：]/).map((x) => x.trim());
      return { skill: skill!, minLevel: level ? Number(level) : 1 };
    });
}

/** The what-if screen: a period, a change (agents per interval, queue skills and overflow, priorities), before/after. */
export function WhatIfPage() {
  const { t, percent, duration } = useI18n();
  const { queues } = useWorkspace();
  const today = new Date(new Date().setHours(0, 0, 0, 0));
  const [period, setPeriod] = useState({ from: local(new Date(today.getTime() - DAY)), to: local(today) });
  const [picked, setPicked] = useState<string[]>([]);
  const [intervals, setIntervals] = useState<IntervalRow[]>([]);
  const [delta, setDelta] = useState("");
  const [queueRows, setQueueRows] = useState<QueueRow[]>([]);
  const [priority, setPriority] = useState<Record<string, string>>({});
  const [result, setResult] = useState<Result | null>(null);
  const [running, setRunning] = useState(false);
  const { submit, error } = useSubmit();

  const change = useMemo(() => {
    const c: Record<string, unknown> = {};
    if (intervals.length)
      c.agentsPerInterval = intervals.map((r) => ({
        start: r.start ? iso(r.start) : "",
        end: r.end ? iso(r.end) : "",
        agents: Number(r.agents),
      }));
    if (delta.trim()) c.agentsDelta = Number(delta);
    if (queueRows.length)
      c.queues = queueRows.map((r) => ({
        id: r.id,
        ...(r.skills.trim() ? { skills: parseSkills(r.skills) } : {}),
        ...(r.action === "widen"
          ? { overflow: [{ afterSeconds: Number(r.after), action: "widen_skills", skills: parseSkills(r.target) }] }
          : r.action === "move"
            ? { overflow: [{ afterSeconds: Number(r.after), action: "move_queue", queueId: r.target }] }
            : {}),
      }));
    const priorities = Object.entries(priority).filter(([, v]) => v.trim() !== "");
    if (priorities.length) c.priority = priorities.map(([queueId, v]) => ({ queueId, priority: Number(v) }));
    return c;
  }, [intervals, delta, queueRows, priority]);

  const run = async (e: FormEvent) => {
    e.preventDefault();
    setRunning(true);
    await submit(async () => {
      const body = {
        from: iso(period.from),
        to: iso(period.to),
        ...(picked.length ? { queueIds: picked } : {}),
        change,
      };
      setResult(await request<Result>("/what-if", { method: "POST", body }));
    });
    setRunning(false);
  };

  const editInterval = (i: number, patch: Partial<IntervalRow>) =>
    setIntervals((rows) => rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setQueueRow = (i: number, patch: Partial<QueueRow>) =>
    setQueueRows((rows) => rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const fraction = (x: number | null) => (x === null ? "—" : percent(x));
  const rows: [MessageKey, (f: Figures) => string][] = [
    ["whatif.offered", (f) => String(f.offered)],
    ["whatif.answered", (f) => String(f.answered)],
    ["whatif.abandoned", (f) => String(f.abandoned)],
    ["whatif.serviceLevel", (f) => fraction(f.serviceLevel)],
    ["whatif.asa", (f) => (f.asaS === null ? "—" : duration(f.asaS))],
    ["whatif.abandonment", (f) => fraction(f.abandonment)],
  ];

  return (
    <form onSubmit={run} data-testid="whatif-form">
      <h2>{t("whatif.title")}</h2>
      <p>{t("whatif.intro")}</p>
      <div className="row-form">
        <Field label={t("whatif.from")}>
          <input
            type="datetime-local"
            data-testid="whatif-from"
            value={period.from}
            onChange={(e) => setPeriod({ ...period, from: e.target.value })}
          />
        </Field>
        <Field label={t("whatif.to")}>
          <input
            type="datetime-local"
            data-testid="whatif-to"
            value={period.to}
            onChange={(e) => setPeriod({ ...period, to: e.target.value })}
          />
        </Field>
      </div>
      <fieldset>
        <legend>{t("whatif.queues")}</legend>
        {queues.map((q) => (
          <label key={q.id} className="check">
            <input
              type="checkbox"
              checked={picked.includes(q.id)}
              onChange={(e) => setPicked((p) => (e.target.checked ? [...p, q.id] : p.filter((id) => id !== q.id)))}
            />{" "}
            {q.name}
            <input
              type="number"
              aria-label={`${t("whatif.priority")} ${q.name}`}
              placeholder={t("whatif.priority")}
              min={-100}
              max={100}
              value={priority[q.id] ?? ""}
              onChange={(e) => setPriority({ ...priority, [q.id]: e.target.value })}
            />
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>{t("whatif.intervals")}</legend>
        {intervals.map((r, i) => (
          <div className="row-form" key={i} data-testid="whatif-interval">
            <Field label={t("whatif.start")}>
              <input
                type="datetime-local"
                value={r.start}
                onChange={(e) => editInterval(i, { start: e.target.value })}
              />
            </Field>
            <Field label={t("whatif.end")}>
              <input type="datetime-local" value={r.end} onChange={(e) => editInterval(i, { end: e.target.value })} />
            </Field>
            <Field label={t("whatif.agents")}>
              <input
                type="number"
                data-testid="whatif-interval-agents"
                value={r.agents}
                onChange={(e) => editInterval(i, { agents: e.target.value })}
              />
            </Field>
            <button type="button" onClick={() => setIntervals((rows) => rows.filter((_, j) => j !== i))}>
              {t("whatif.remove")}
            </button>
          </div>
        ))}
        <div className="row-form">
          <button
            type="button"
            data-testid="whatif-add-interval"
            onClick={() => setIntervals((rows) => [...rows, { start: period.from, end: period.to, agents: "1" }])}
          >
            {t("whatif.addInterval")}
          </button>
        </div>
        <Field label={t("whatif.delta")}>
          <input type="number" data-testid="whatif-delta" value={delta} onChange={(e) => setDelta(e.target.value)} />
        </Field>
      </fieldset>
      <fieldset>
        <legend>{t("whatif.queueChanges")}</legend>
        {queueRows.map((r, i) => (
          <div className="row-form" key={i}>
            <Field label={t("forecast.queue")}>
              <select value={r.id} onChange={(e) => setQueueRow(i, { id: e.target.value })}>
                {queues.map((q) => (
                  <option key={q.id} value={q.id}>
                    {q.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t("whatif.skills")}>
              <input value={r.skills} onChange={(e) => setQueueRow(i, { skills: e.target.value })} />
            </Field>
            <Field label={t("whatif.overflowAction")}>
              <select
                value={r.action}
                onChange={(e) => setQueueRow(i, { action: e.target.value as QueueRow["action"], target: "" })}
              >
                <option value="none">{t("whatif.none")}</option>
                <option value="widen">{t("whatif.widen")}</option>
                <option value="move">{t("whatif.move")}</option>
              </select>
            </Field>
            {r.action !== "none" && (
              <>
                <Field label={t("whatif.overflowAfter")}>
                  <input type="number" value={r.after} onChange={(e) => setQueueRow(i, { after: e.target.value })} />
                </Field>
                {r.action === "widen" ? (
                  <Field label={t("whatif.skills")}>
                    <input value={r.target} onChange={(e) => setQueueRow(i, { target: e.target.value })} />
                  </Field>
                ) : (
                  <Field label={t("whatif.move")}>
                    <select value={r.target} onChange={(e) => setQueueRow(i, { target: e.target.value })}>
                      <option value="" />
                      {queues.map((q) => (
                        <option key={q.id} value={q.id}>
                          {q.name}
                        </option>
                      ))}
                    </select>
                  </Field>
                )}
              </>
            )}
            <button type="button" onClick={() => setQueueRows((rows) => rows.filter((_, j) => j !== i))}>
              {t("whatif.remove")}
            </button>
          </div>
        ))}
        {queues.length > 0 && (
          <button
            type="button"
            onClick={() =>
              setQueueRows((rows) => [
                ...rows,
                { id: queues[0]!.id, skills: "", after: "60", action: "none", target: "" },
              ])
            }
          >
            {t("whatif.addQueueChange")}
          </button>
        )}
      </fieldset>
      <h3>{t("whatif.json")}</h3>
      <pre className="json" data-testid="whatif-json">
        {JSON.stringify(change, null, 2)}
      </pre>
      <button type="submit" disabled={running} data-testid="whatif-run">
        {running ? t("whatif.running") : t("whatif.run")}
      </button>
      {error}
      {result && (
        <section aria-labelledby="whatif-results">
          <h3 id="whatif-results">{t("whatif.results")}</h3>
          <p>{t("whatif.arrivals", { n: result.arrivals })}</p>
          <table className="table" data-testid="whatif-results">
            <thead>
              <tr>
                <th>{t("whatif.measure")}</th>
                <th>{t("whatif.actual")}</th>
                <th>{t("whatif.before")}</th>
                <th>{t("whatif.after")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(([key, show]) => (
                <tr key={key} data-testid={key}>
                  <th>{t(key)}</th>
                  <td>{show(result.actual)}</td>
                  <td data-testid="before">{show(result.before)}</td>
                  <td data-testid="after">{show(result.after)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <IntervalChart before={result.before.intervals} after={result.after.intervals} />
        </section>
      )}
    </form>
  );
}

/** Service level and agents per half-hour, before and after, drawn once the replay has answered. */
function IntervalChart({ before, after }: { before: ReplayInterval[]; after: ReplayInterval[] }) {
  const { t, locale } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    let disposed = false;
    let chart: { dispose(): void; resize(): void } | undefined;
    const onResize = () => chart?.resize();
    void import("./forecast-chart.ts").then(({ drawWhatIf }) => {
      if (disposed || !box.current) return;
      const labels = {
        levelBefore: t("whatif.levelBefore"),
        levelAfter: t("whatif.levelAfter"),
        agentsBefore: t("whatif.agentsBefore"),
        agentsAfter: t("whatif.agentsAfter"),
      };
      chart = drawWhatIf(box.current, before, after, labels, locale);
      addEventListener("resize", onResize);
    });
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
      chart?.dispose();
    };
  }, [before, after, locale]);
  return <div ref={box} className="chart" role="img" aria-label={t("whatif.chart")} data-testid="whatif-chart" />;
}
