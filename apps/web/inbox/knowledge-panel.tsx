import { useEffect, useState } from "react";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";

type Suggestion = { id: string; title: string; snippet: string; summary: string; locale: string };

/**
 * Articles for the customer's latest messages, beside the composer: one click puts the summary (or
 * the help center link) into the reply, and the use is recorded for the knowledge report.
 */
export function KnowledgeSuggestions({
  conversationId,
  lastActivity,
  onInsert,
}: {
  conversationId: string;
  lastActivity: string;
  onInsert: (text: string) => void;
}) {
  const { t } = useI18n();
  const [items, setItems] = useState<Suggestion[] | null>(null);
  const [open, setOpen] = useState(true);

  useEffect(() => {
    let live = true;
    request<{ items: Suggestion[] }>(`/conversations/${conversationId}/knowledge`).then(
      (r) => live && setItems(r.items),
      () => live && setItems([]),
    );
    return () => {
      live = false;
    };
  }, [conversationId, lastActivity]);

  if (!items?.length) return null;
  const insert = async (id: string, as: "summary" | "link") => {
    const r = await request<{ text: string }>(`/knowledge/articles/${id}/insertions`, { body: { conversationId, as } });
    onInsert(r.text);
  };
  return (
    <section className="kb-suggestions" data-testid="kb-suggestions" aria-label={t("kb.suggestions")}>
      <button type="button" className="kb-toggle" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        📖 {t("kb.suggestions")} ({items.length})
      </button>
      {open && (
        <ul>
          {items.slice(0, 3).map((a) => (
            <li key={a.id} data-testid="kb-suggestion">
              <strong lang={a.locale}>{a.title}</strong>
              <span className="kb-snippet">{a.summary || a.snippet}</span>
              <span className="kb-actions">
                <button type="button" onClick={() => void insert(a.id, "summary")} data-testid="kb-insert-summary">
                  {t("kb.insertSummary")}
                </button>
                <button type="button" onClick={() => void insert(a.id, "link")} data-testid="kb-insert-link">
                  {t("kb.insertLink")}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
