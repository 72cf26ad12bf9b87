import { useCallback, useEffect, useState } from "react";
import { useWorkspace } from "../workspace.tsx";
import { ApiError, request } from "../client.ts";
import type { MessageKey } from "../catalog.ts";
import { useI18n } from "../i18n.ts";
import type { HeldBackMail } from "../model.ts";
import { href } from "../route.ts";

/**
 * The spam view (admins and supervisors): mail an email inbox held back — flagged as spam, from a
 * sender over the flood limit, without a sender — with "Not spam", which files the mail into its
 * conversation as if it had just arrived, and "Delete", which removes it for good after a second click.
 */
export function SpamView() {
  const { t, when } = useI18n();
  const { inboxes } = useWorkspace();
  const email = inboxes.filter((i) => i.channel === "email");
  const [chosen, setChosen] = useState<string | null>(null);
  const inboxId = chosen ?? email[0]?.id ?? null;
  const [items, setItems] = useState<HeldBackMail[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [released, setReleased] = useState<{ conversationId: string } | null>(null);

  const load = useCallback(async () => {
    if (!inboxId) return;
    setError(null);
    try {
      setItems((await request<{ items: HeldBackMail[] }>(`/inboxes/${inboxId}/email/spam`)).items);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    }
  }, [inboxId, t]);
  useEffect(() => {
    setItems(null);
    setReleased(null);
    void load();
  }, [load]);

  const act = async (id: string, fn: () => Promise<void>) => {
    setBusy(id);
    setError(null);
    try {
      await fn();
      setItems((list) => list?.filter((m) => m.id !== id) ?? null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t("error.generic"));
    } finally {
      setBusy(null);
      setConfirming(null);
    }
  };
  const release = (id: string) =>
    act(id, async () =>
      setReleased(
        await request<{ conversationId: string }>(`/inboxes/${inboxId}/email/spam/${id}/release`, { method: "POST" }),
      ),
    );
  const remove = (id: string) =>
    act(id, async () => void (await request(`/inboxes/${inboxId}/email/spam/${id}`, { method: "DELETE" })));

  if (!email.length) return <p className="muted">{t("spam.noInboxes")}</p>;
  return (
    <div data-testid="spam-view">
      <h2>{t("admin.spam")}</h2>
      <p className="muted">{t("spam.help")}</p>
      <div className="row-form">
        <label className="field inline">
          <span>{t("spam.inbox")}</span>
          <select value={inboxId ?? ""} onChange={(e) => setChosen(e.target.value)} data-testid="spam-inbox">
            {email.map((i) => (
              <option key={i.id} value={i.id}>
                {i.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void load()} data-testid="spam-refresh">
          {t("spam.refresh")}
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {released && (
        <p role="status" data-testid="spam-released">
          {t("spam.released")}{" "}
          <a
            href={href({ page: "inbox", view: "all", conversationId: released.conversationId })}
            data-testid="spam-open-conversation"
          >
            {t("spam.open")}
          </a>
        </p>
      )}
      {items === null ? (
        <div aria-busy="true" />
      ) : items.length === 0 ? (
        <p className="muted" data-testid="spam-empty">
          {t("spam.empty")}
        </p>
      ) : (
        <table className="grid" data-testid="spam-table">
          <thead>
            <tr>
              <th>{t("spam.from")}</th>
              <th>{t("spam.subject")}</th>
              <th>{t("spam.reason")}</th>
              <th>{t("spam.receivedAt")}</th>
              <th>
                <span className="visually-hidden">{t("spam.actions")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id} data-testid="spam-row" data-id={m.id}>
                <td dir="auto">{m.from || t("spam.noSender")}</td>
                <td dir="auto">{m.subject || t("spam.noSubject")}</td>
                <td title={m.reason}>{m.kind === "other" ? m.reason : t(`spam.kind.${m.kind}` as MessageKey)}</td>
                <td>
                  <time dateTime={m.receivedAt}>{when(m.receivedAt)}</time>
                </td>
                <td className="actions">
                  <button
                    type="button"
                    disabled={!m.releasable || busy === m.id}
                    title={m.releasable ? "" : t("spam.cannotRelease")}
                    onClick={() => void release(m.id)}
                    data-testid="spam-release"
                  >
                    {t("spam.release")}
                  </button>{" "}
                  {confirming === m.id ? (
                    <button
                      type="button"
                      className="danger"
                      disabled={busy === m.id}
                      onClick={() => void remove(m.id)}
                      data-testid="spam-confirm-delete"
                    >
                      {t("spam.confirmDelete")}
                    </button>
                  ) : (
                    <button type="button" onClick={() => setConfirming(m.id)} data-testid="spam-delete">
                      {t("common.delete")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
