import { useState, type FormEvent } from "react";
import { useWorkspace } from "./workspace.tsx";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { navigate } from "./route.ts";

/**
 * "New email" in the contact panel: a first outbound mail to a contact who has an email address,
 * through one of the workspace's email inboxes. It opens the new conversation, assigned to the agent.
 */
export function NewEmail({
  contactId,
  addresses,
  defaultOpen = false,
}: {
  contactId: string;
  addresses: string[];
  /** Opened from elsewhere (the composer's closed-window notice): the form shows at once. */
  defaultOpen?: boolean;
}) {
  const { t } = useI18n();
  const { inboxes } = useWorkspace();
  const emailInboxes = inboxes.filter((i) => i.channel === "email");
  const [open, setOpen] = useState(defaultOpen);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  if (!addresses.length || !emailInboxes.length) return null;

  const send = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setSending(true);
    setError(null);
    try {
      const started = await request<{ conversation: { id: string } }>("/conversations/email", {
        body: {
          contactId,
          inboxId: f.get("inboxId"),
          subject: String(f.get("subject") ?? ""),
          text: String(f.get("text") ?? ""),
          to: [String(f.get("to"))],
        },
      });
      setOpen(false);
      navigate({ page: "inbox", view: "mine", conversationId: started.conversation.id });
    } catch (err) {
      setError(
        err instanceof ApiError ? (err.field ? `${err.field}: ${err.message}` : err.message) : t("error.generic"),
      );
    } finally {
      setSending(false);
    }
  };

  return (
    <section aria-label={t("email.new")}>
      <button type="button" onClick={() => setOpen((v) => !v)} aria-expanded={open} data-testid="new-email">
        ✉ {t("email.new")}
      </button>
      {open && (
        <form className="email-form" onSubmit={send} data-testid="new-email-form">
          <label className="field">
            <span>{t("email.via")}</span>
            <select name="inboxId">
              {emailInboxes.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{t("email.to")}</span>
            <select name="to">
              {addresses.map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{t("email.newSubject")}</span>
            <input name="subject" required maxLength={998} />
          </label>
          <textarea
            name="text"
            required
            rows={4}
            maxLength={10_000}
            dir="auto"
            aria-label={t("composer.placeholder")}
          />
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="primary" disabled={sending}>
            {t("composer.send")}
          </button>
        </form>
      )}
    </section>
  );
}
