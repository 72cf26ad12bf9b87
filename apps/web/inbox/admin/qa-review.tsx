import { useCallback, useEffect, useState } from "react";
import type { MessageKey } from "../catalog.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { severities, type QaFinding, type QaStatus } from "../qa-model.ts";

type Row = {
  key: string | null;
  name: string | null;
  conversations: number;
  averageScore: number | null;
  findings: number;
  critical: number;
};
const DAY = 86_400_000;

/**
 * Settings → QA review: the findings queue (newest first, filtered by status and severity, a page at
 * a time), where a supervisor confirms or dismisses each and leaves a coaching note; and the last 30
 * days' scores by agent and by queue.
 */
export function QaReview() {
  const { t, when } = useI18n();
  const [filter, setFilter] = useState<{ status: QaStatus | ""; severity: string }>({ status: "open", severity: "" });
  const [items, setItems] = useState<QaFinding[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [summary, setSummary] = useState<{ agents: Row[]; queues: Row[] } | null>(null);
  const [forbidden, setForbidden] = useState(false);

  const page = useCallback(
    async (cursor: string | null) => {
      const q = new URLSearchParams({ limit: "25" });
      if (filter.status) q.set("status", filter.status);
      if (filter.severity) q.set("severity", filter.severity);
      if (cursor) q.set("cursor", cursor);
      try {
        const r = await request<{ items: QaFinding[]; nextCursor: string | null }>(`/qa/findings?${q}`);
        setItems((shown) => (cursor ? [...shown, ...r.items] : r.items));
        setNext(r.nextCursor);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) setForbidden(true);
        else throw e;
      }
    },
    [filter],
  );
  useEffect(() => void page(null), [page]);
  useEffect(() => {
    const q = new URLSearchParams({
      from: new Date(Date.now() - 30 * DAY).toISOString(),
      to: new Date(Date.now() + DAY).toISOString(),
    });
    Promise.all([
      request<{ rows: Row[] }>(`/qa/summary?groupBy=agent&${q}`),
      request<{ rows: Row[] }>(`/qa/summary?groupBy=queue&${q}`),
    ])
      .then(([a, b]) => setSummary({ agents: a.rows, queues: b.rows }))
      .catch(() => {});
  }, []);

  const review = async (f: QaFinding, change: { status?: QaStatus; coachingNote?: string }) => {
    const updated = await request<QaFinding>(`/qa/findings/${f.id}`, { method: "PATCH", body: change });
    setItems((shown) =>
      shown
        .map((x) => (x.id === f.id ? { ...x, ...updated, agentName: x.agentName } : x))
        // A reviewed finding leaves a queue filtered by another status.
        .filter((x) => !filter.status || x.status === filter.status || x.id !== f.id || !change.status),
    );
  };

  if (forbidden) return <p className="notice">{t("qa.forbidden")}</p>;
  return (
    <div className="qa-review" data-testid="qa-review">
      <div className="filters">
        <label className="field inline">
          <span>{t("qa.status")}</span>
          <select
            data-testid="qa-filter-status"
            value={filter.status}
            onChange={(e) => setFilter((f) => ({ ...f, status: e.target.value as QaStatus | "" }))}
          >
            <option value="">{t("qa.any")}</option>
            {(["open", "confirmed", "dismissed"] as const).map((s) => (
              <option key={s} value={s}>
                {t(`qa.status.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <label className="field inline">
          <span>{t("qa.severity")}</span>
          <select
            data-testid="qa-filter-severity"
            value={filter.severity}
            onChange={(e) => setFilter((f) => ({ ...f, severity: e.target.value }))}
          >
            <option value="">{t("qa.any")}</option>
            {severities.map((s) => (
              <option key={s} value={s}>
                {t(`qa.severity.${s}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {!items.length && <p className="notice">{t("qa.empty")}</p>}
      <ul className="qa-queue">
        {items.map((f) => (
          <FindingRow key={f.id} f={f} when={when(f.createdAt)} onReview={(change) => review(f, change)} />
        ))}
      </ul>
      {next && (
        <button type="button" onClick={() => void page(next)} data-testid="qa-more">
          {t("qa.more")}
        </button>
      )}
      {summary && (
        <>
          <SummaryTable title="qa.byAgent" rows={summary.agents} none="qa.nobody" />
          <SummaryTable title="qa.byQueue" rows={summary.queues} none="qa.noQueue" />
        </>
      )}
    </div>
  );
}

function FindingRow({
  f,
  when,
  onReview,
}: {
  f: QaFinding;
  when: string;
  onReview(change: { status?: QaStatus; coachingNote?: string }): Promise<void>;
}) {
  const { t } = useI18n();
  const [note, setNote] = useState(f.coachingNote ?? "");
  return (
    <li className={`qa-finding sev-${f.severity}`} data-testid="qa-queue-finding" data-status={f.status}>
      <div>
        <span className={`qa-sev sev-${f.severity}`}>{t(`qa.severity.${f.severity}` as MessageKey)}</span>{" "}
        <strong>{f.rule}</strong> · {f.agentName ?? t("qa.nobody")} · {when} ·{" "}
        <em>{t(`qa.status.${f.status}` as MessageKey)}</em>
      </div>
      <p className="quote">
        <a href={`#/inbox/all/${f.conversationId}`}>“{f.excerpt}”</a>
      </p>
      <div className="toast-actions">
        {f.status !== "confirmed" && (
          <button type="button" onClick={() => void onReview({ status: "confirmed" })} data-testid="qa-confirm">
            {t("qa.confirm")}
          </button>
        )}
        {f.status !== "dismissed" && (
          <button type="button" onClick={() => void onReview({ status: "dismissed" })} data-testid="qa-dismiss">
            {t("qa.dismiss")}
          </button>
        )}
        {f.status !== "open" && (
          <button type="button" onClick={() => void onReview({ status: "open" })}>
            {t("qa.reopen")}
          </button>
        )}
      </div>
      <label className="field">
        <span>{t("qa.note")}</span>
        <textarea value={note} rows={2} onChange={(e) => setNote(e.target.value)} data-testid="qa-note" />
      </label>
      <button type="button" onClick={() => void onReview({ coachingNote: note })} data-testid="qa-save-note">
        {t("qa.saveNote")}
      </button>
    </li>
  );
}

function SummaryTable({ title, rows, none }: { title: MessageKey; rows: Row[]; none: MessageKey }) {
  const { t } = useI18n();
  return (
    <>
      <h3>{t(title)}</h3>
      <table className="table">
        <thead>
          <tr>
            <th>{t(title === "qa.byAgent" ? "qa.agent" : "qa.byQueue")}</th>
            <th>{t("qa.conversations")}</th>
            <th>{t("qa.average")}</th>
            <th>{t("qa.findings")}</th>
            <th>{t("qa.critical")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key ?? "none"}>
              <td>{r.name ?? t(none)}</td>
              <td>{r.conversations}</td>
              <td>{r.averageScore ?? "—"}</td>
              <td>{r.findings}</td>
              <td>{r.critical}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
