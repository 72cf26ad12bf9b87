import { useEffect, useState, type FormEvent } from "react";
import { useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { href } from "./route.ts";

type Gap = { query: string | null; kind: "search_empty" | "handover"; count: number; lastAt: string };
type Counts = Partial<Record<"view" | "vote_up" | "vote_down" | "insert" | "bot_answer" | "deflection", number>>;
type Report = { articles: { articleId: string; title: string; counts: Counts }[]; deflections: number };

const PERIODS = [7, 30, 90] as const;
const COLUMNS = ["view", "vote_up", "vote_down", "insert", "bot_answer", "deflection"] as const;

/**
 * What readers did with the knowledge base, for editors (and admins, supervisors): the gaps —
 * searches that found nothing and chats the bot handed over, most frequent first — and per article
 * its views, votes, insertions into replies, bot answers and deflections.
 */
export function KnowledgeInsights() {
  const { t, when } = useI18n();
  const [days, setDays] = useState<number>(30);
  const [gaps, setGaps] = useState<Gap[] | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  useEffect(() => {
    let live = true;
    Promise.all([
      request<{ items: Gap[] }>(`/knowledge/gaps?days=${days}`),
      request<Report>(`/knowledge/report?days=${days}`),
    ]).then(
      ([g, r]) => live && (setGaps(g.items), setReport(r)),
      () => live && (setGaps([]), setReport({ articles: [], deflections: 0 })),
    );
    return () => {
      live = false;
    };
  }, [days]);
  const articles = [...(report?.articles ?? [])].sort((a, b) => (b.counts.view ?? 0) - (a.counts.view ?? 0));
  return (
    <div className="kb-insights" data-testid="kb-insights">
      <h2>{t("kb.insights.title")}</h2>
      <label className="field inline">
        <span>{t("kb.insights.period")}</span>
        <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="kb-insights-period">
          {PERIODS.map((d) => (
            <option key={d} value={d}>
              {t("kb.insights.days", { days: d })}
            </option>
          ))}
        </select>
      </label>
      <h3>{t("kb.insights.gaps")}</h3>
      {gaps && !gaps.length ? (
        <p className="empty">{t("kb.insights.noGaps")}</p>
      ) : (
        <table className="grid" data-testid="kb-gaps">
          <thead>
            <tr>
              <th>{t("kb.insights.query")}</th>
              <th>{t("kb.insights.kind")}</th>
              <th>{t("kb.insights.count")}</th>
              <th>{t("kb.insights.last")}</th>
            </tr>
          </thead>
          <tbody>
            {(gaps ?? []).map((g, i) => (
              <tr key={i} data-testid="kb-gap" data-kind={g.kind}>
                <td dir="auto">{g.query ?? "—"}</td>
                <td>{t(g.kind === "search_empty" ? "kb.insights.noResult" : "kb.insights.handover")}</td>
                <td>{g.count}</td>
                <td>{when(g.lastAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>{t("kb.insights.articles")}</h3>
      <p data-testid="kb-deflections">{t("kb.insights.deflections", { count: report?.deflections ?? 0 })}</p>
      {report && !articles.length ? (
        <p className="empty">{t("kb.insights.noArticles")}</p>
      ) : (
        <table className="grid" data-testid="kb-report">
          <thead>
            <tr>
              <th>{t("kb.title")}</th>
              {COLUMNS.map((c) => (
                <th key={c}>{t(`kb.insights.${c}`)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {articles.map((a) => (
              <tr key={a.articleId} data-testid="kb-report-row" data-article-id={a.articleId}>
                <td>
                  <a href={href({ page: "knowledge", articleId: a.articleId })}>{a.title}</a>
                </td>
                {COLUMNS.map((c) => (
                  <td key={c} data-column={c}>
                    {a.counts[c] ?? 0}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

type Suggestion = { id: string; detail: string | null; userId: string | null; createdAt: string };

/**
 * Suggested edits on an article: agents (who read but do not write) send one to the editors;
 * editors see them, newest first, under the article they are editing.
 */
export function EditSuggestions({ articleId, canEdit }: { articleId: string; canEdit: boolean }) {
  const { t, when } = useI18n();
  const { users } = useWorkspace();
  const [items, setItems] = useState<Suggestion[]>([]);
  const [text, setText] = useState("");
  const [note, setNote] = useState<{ error: boolean; text: string } | null>(null);
  useEffect(() => {
    if (canEdit)
      request<{ items: Suggestion[] }>(`/knowledge/articles/${articleId}/suggestions`).then(
        (r) => setItems(r.items),
        () => {},
      );
  }, [articleId, canEdit]);
  if (canEdit)
    return items.length ? (
      <section className="kb-suggested" data-testid="kb-edit-suggestions">
        <h3>{t("kb.suggest.received", { count: items.length })}</h3>
        <ul>
          {items.map((s) => (
            <li key={s.id} data-testid="kb-edit-suggestion">
              <p dir="auto">{s.detail}</p>
              <span className="meta">
                {users.find((u) => u.id === s.userId)?.name ?? "—"} · {when(s.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      </section>
    ) : null;
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setNote(null);
    try {
      await request(`/knowledge/articles/${articleId}/suggestions`, { body: { text } });
      setText("");
      setNote({ error: false, text: t("kb.suggest.sent") });
    } catch (err) {
      setNote({ error: true, text: err instanceof ApiError ? err.message : t("error.generic") });
    }
  };
  return (
    <form className="kb-suggest" onSubmit={send} data-testid="kb-suggest">
      <label className="field">
        <span>{t("kb.suggest.label")}</span>
        <textarea
          value={text}
          onChange={(e) => setText(e.target.value)}
          rows={3}
          maxLength={5000}
          required
          dir="auto"
          data-testid="kb-suggest-text"
        />
      </label>
      <button type="submit" data-testid="kb-suggest-send">
        {t("kb.suggest.send")}
      </button>
      {note && (
        <p className={note.error ? "error" : "ok"} role={note.error ? "alert" : "status"}>
          {note.text}
        </p>
      )}
    </form>
  );
}
