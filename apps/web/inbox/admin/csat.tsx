import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field } from "./form.tsx";

type Response = {
  conversationId: string;
  rating: number;
  comment: string | null;
  channel: string;
  agentId: string | null;
  agentName: string | null;
  createdAt: string;
};
type Row = { key: string | null; name: string | null; responses: number; average: number; satisfied: number };
type Results = { items: Response[]; agents: Row[]; queues: Row[] };

const DAY = 86_400_000;
const dateInput = (d: Date) => d.toISOString().slice(0, 10);

/** Settings → Satisfaction: the answers of a period, and averages per agent and per queue. */
export function CsatResults() {
  const { t, locale } = useI18n();
  const [period, setPeriod] = useState({ from: dateInput(new Date(Date.now() - 30 * DAY)), to: "" });
  const [results, setResults] = useState<Results | null>(null);
  const [forbidden, setForbidden] = useState(false);

  const load = useCallback(async () => {
    const q = new URLSearchParams();
    if (period.from) q.set("from", new Date(`${period.from}T00:00:00`).toISOString());
    // The whole "to" day counts.
    if (period.to) q.set("to", new Date(new Date(`${period.to}T00:00:00`).getTime() + DAY).toISOString());
    try {
      const [list, agents, queues] = await Promise.all([
        request<{ items: Response[] }>(`/csat?${q}`),
        request<{ rows: Row[] }>(`/csat/summary?groupBy=agent&${q}`),
        request<{ rows: Row[] }>(`/csat/summary?groupBy=queue&${q}`),
      ]);
      setResults({ items: list.items, agents: agents.rows, queues: queues.rows });
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) setForbidden(true);
      else throw e;
    }
  }, [period]);
  useEffect(() => void load(), [load]);

  if (forbidden) return <p className="notice">{t("csat.forbidden")}</p>;
  const show = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    setPeriod({ from: String(d.get("from") ?? ""), to: String(d.get("to") ?? "") });
  };
  const percent = (x: number) => `${Math.round(x * 100)}%`;
  const summary = (title: MessageKey, rows: Row[], none: MessageKey, testId: string) => (
    <>
      <h3>{t(title)}</h3>
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            <th>{t(title === "csat.byAgent" ? "csat.agent" : "csat.byQueue")}</th>
            <th>{t("csat.count")}</th>
            <th>{t("csat.average")}</th>
            <th>{t("csat.satisfied")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key ?? "none"}>
              <td>{r.name ?? t(none)}</td>
              <td>{r.responses}</td>
              <td>{r.average.toFixed(2)}</td>
              <td>{percent(r.satisfied)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
  return (
    <>
      <h2>{t("admin.csat")}</h2>
      <form className="row-form" onSubmit={show} data-testid="csat-period">
        <Field label={t("csat.from")}>
          <input type="date" name="from" defaultValue={period.from} />
        </Field>
        <Field label={t("csat.to")}>
          <input type="date" name="to" defaultValue={period.to} />
        </Field>
        <button type="submit">{t("csat.show")}</button>
      </form>
      {results && results.items.length === 0 && <p className="empty">{t("csat.none")}</p>}
      {results && results.items.length > 0 && (
        <>
          {summary("csat.byAgent", results.agents, "csat.nobody", "csat-by-agent")}
          {summary("csat.byQueue", results.queues, "csat.noQueue", "csat-by-queue")}
          <h3>{t("csat.responses")}</h3>
          <table className="table" data-testid="csat-responses">
            <thead>
              <tr>
                <th>{t("csat.rating")}</th>
                <th>{t("csat.comment")}</th>
                <th>{t("csat.channel")}</th>
                <th>{t("csat.agent")}</th>
                <th>{t("csat.date")}</th>
              </tr>
            </thead>
            <tbody>
              {results.items.map((r) => (
                <tr key={r.conversationId}>
                  <td aria-label={String(r.rating)}>{"★".repeat(r.rating)}</td>
                  <td dir="auto">
                    <a href={`#/conversations/${r.conversationId}`}>{r.comment ?? "—"}</a>
                  </td>
                  <td>{t(`channel.${r.channel}` as MessageKey)}</td>
                  <td>{r.agentName ?? t("csat.nobody")}</td>
                  <td>{new Date(r.createdAt).toLocaleString(locale)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}
