import { useCallback, useEffect, useRef, useState } from "react";
import type { MessageKey } from "./catalog.ts";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { ConversationQa } from "./qa-model.ts";
import { useFrames } from "./workspace.tsx";

// The server scores a conversation about half a second after a message; asking a little later finds it.
const RESCORE_DELAY_MS = 1500;

/** Scrolls the timeline to an item and marks it for a moment: where an excerpt came from. */
function showItem(itemId: string) {
  const el = document.querySelector<HTMLElement>(`[data-item-id="${CSS.escape(itemId)}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center", behavior: "smooth" });
  el.classList.add("qa-highlight");
  setTimeout(() => el.classList.remove("qa-highlight"), 2000);
}

/**
 * The conversation's automatic QA under its header: the score as a badge, and the findings with
 * their excerpts, each linking to the message or call it is about. Fetched again shortly after a
 * new message or a finding's review.
 */
export function QaPanel({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const [qa, setQa] = useState<ConversationQa | null>(null);
  const [open, setOpen] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const load = useCallback(async () => {
    setQa(await request<ConversationQa>(`/conversations/${conversationId}/qa`).catch(() => null));
  }, [conversationId]);
  useEffect(() => {
    setQa(null);
    void load();
    return () => clearTimeout(timer.current);
  }, [load]);
  useFrames(
    (f) => {
      if (f.conversationId !== conversationId || (f.type !== "item.created" && f.type !== "qa.alert")) return;
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void load(), RESCORE_DELAY_MS);
    },
    [conversationId, load],
  );

  if (!qa) return null;
  const score = qa.score;
  const level = score === null ? "none" : score >= 85 ? "good" : score >= 60 ? "fair" : "poor";
  return (
    <div className="qa-panel" data-testid="qa-panel">
      <span className={`qa-score qa-${level}`} title={t("qa.scoreTitle")} data-testid="qa-score">
        {score === null ? t("qa.pending") : t("qa.score", { score })}
      </span>
      {qa.sentiment && (
        <span className="qa-sentiment">
          {t("qa.sentiment", { start: qa.sentiment.start.toFixed(2), end: qa.sentiment.end.toFixed(2) })}
        </span>
      )}
      <button type="button" onClick={() => setOpen((o) => !o)} aria-expanded={open} data-testid="qa-toggle">
        {open ? t("qa.hide") : t("qa.show", { n: qa.findings.length })}
      </button>
      {open && (
        <ul className="qa-findings" data-testid="qa-findings">
          {!qa.findings.length && <li>{t("qa.none")}</li>}
          {qa.findings.map((f) => (
            <li key={f.id} className={`qa-finding sev-${f.severity} status-${f.status}`} data-testid="qa-finding">
              <span className={`qa-sev sev-${f.severity}`}>{t(`qa.severity.${f.severity}` as MessageKey)}</span>{" "}
              <strong>{f.rule}</strong>{" "}
              {f.itemId ? (
                <a
                  href={`#item-${f.itemId}`}
                  title={t("qa.goto")}
                  onClick={(e) => (e.preventDefault(), showItem(f.itemId!))}
                  data-testid="qa-excerpt"
                >
                  “{f.excerpt}”
                </a>
              ) : (
                <span>{f.excerpt}</span>
              )}{" "}
              {f.status !== "open" && <em>{t(`qa.status.${f.status}` as MessageKey)}</em>}
              {f.coachingNote && <p className="qa-note">{f.coachingNote}</p>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
