import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { DeliveryView, WebhookEventType, WebhookView } from "../../../../integrations/webhook.ts";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field } from "./form.tsx";
import { useRefusal } from "./refusal.tsx";
import { ShownOnce } from "./shown-once.tsx";

/** integrations/webhook.ts's list, repeated here so the browser bundle does not pull in the server module. */
const EVENTS: WebhookEventType[] = [
  "conversation.created",
  "conversation.updated",
  "conversation.resolved",
  "message.created",
  "contact.updated",
];

/** Settings → Webhooks: URLs that receive the workspace's events, signed; each with its delivery log. */
export function Webhooks() {
  const { t } = useI18n();
  const [hooks, setHooks] = useState<WebhookView[] | null>(null);
  const [events, setEvents] = useState<WebhookEventType[]>(["conversation.created", "message.created"]);
  const [made, setMade] = useState<{ url: string; secret: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const { refuse, clear, invalid, errorAt, general } = useRefusal("webhooks.field", ["url", "events"]);
  const load = useCallback(
    () => request<{ items: WebhookView[] }>("/webhooks").then((r) => setHooks(r.items), refuse),
    [refuse],
  );
  useEffect(() => void load(), [load]);

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const url = String(new FormData(form).get("url") ?? "").trim();
    clear();
    setBusy(true);
    try {
      const body = { url, events: EVENTS.filter((ev) => events.includes(ev)) };
      const created = await request<{ id: string; secret: string }>("/webhooks", { body });
      form.reset();
      setMade({ url, secret: created.secret });
      setOpen(created.id);
      await load();
    } catch (err) {
      refuse(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (hook: WebhookView) => {
    if (!confirm(t("webhooks.deleteConfirm", { url: hook.url }))) return;
    try {
      await request(`/webhooks/${hook.id}`, { method: "DELETE" });
    } catch (err) {
      refuse(err);
    }
    await load();
  };

  return (
    <>
      <h2>{t("admin.webhooks")}</h2>
      <p className="hint">{t("webhooks.intro")}</p>
      <form className="settings-form" onSubmit={create} data-testid="webhook-form" noValidate>
        <Field label={t("webhooks.url")}>
          <input
            name="url"
            type="url"
            maxLength={2000}
            placeholder="https://crm.example.com/switchboard"
            aria-invalid={invalid("url")}
          />
          {errorAt("url")}
        </Field>
        <fieldset aria-invalid={invalid("events")}>
          <legend>{t("webhooks.events")}</legend>
          {EVENTS.map((ev) => (
            <label key={ev} title={ev}>
              <input
                type="checkbox"
                value={ev}
                checked={events.includes(ev)}
                onChange={(e) => setEvents((now) => (e.target.checked ? [...now, ev] : now.filter((x) => x !== ev)))}
              />{" "}
              {t(`webhooks.event.${ev}`)} <code>{ev}</code>
            </label>
          ))}
          {errorAt("events")}
        </fieldset>
        {general}
        <button type="submit" className="primary" disabled={busy}>
          {t("webhooks.create")}
        </button>
      </form>
      {made && (
        <ShownOnce
          testId="webhook-shown"
          values={[{ name: "secret", label: t("webhooks.theSecret", { url: made.url }), value: made.secret }]}
          onDone={() => setMade(null)}
        />
      )}
      {hooks && hooks.length === 0 && <p className="empty">{t("webhooks.none")}</p>}
      <ul className="cards" data-testid="webhook-list">
        {hooks?.map((h) => (
          <li key={h.id} data-testid="webhook" data-webhook-id={h.id}>
            <code>{h.url}</code>
            <div className="hint">
              {h.events.map((ev) => t(`webhooks.event.${ev as WebhookEventType}`)).join(" · ")}
            </div>
            <div className="row-form">
              <button
                type="button"
                onClick={() => setOpen(open === h.id ? null : h.id)}
                aria-expanded={open === h.id}
                data-testid="webhook-deliveries-toggle"
              >
                {t("webhooks.deliveries")}
              </button>
              <button type="button" className="danger" onClick={() => void remove(h)}>
                {t("common.delete")}
              </button>
            </div>
            {open === h.id && <Deliveries webhookId={h.id} />}
          </li>
        ))}
      </ul>
    </>
  );
}

const POLL_MS = 2000;

/** The deliveries shown: a pending one that has been tried already is retrying. */
const shownStatus = (d: DeliveryView) => (d.status === "pending" && d.attempts > 0 ? "retrying" : d.status);

/** A webhook's delivery log, read every 2 s while open (the worker delivers in the background). */
function Deliveries({ webhookId }: { webhookId: string }) {
  const { t, when } = useI18n();
  const [items, setItems] = useState<DeliveryView[] | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const read = useCallback(
    () =>
      request<{ items: DeliveryView[] }>(`/webhooks/${webhookId}/deliveries`).then(
        (r) => (setItems(r.items), setFailed(null)),
        (e) => setFailed(e instanceof ApiError ? e.message : t("error.generic")),
      ),
    [webhookId, t],
  );
  useEffect(() => {
    void read();
    const timer = setInterval(() => document.visibilityState === "visible" && void read(), POLL_MS);
    return () => clearInterval(timer);
  }, [read]);

  const resend = async (d: DeliveryView) => {
    try {
      await request(`/webhooks/${webhookId}/deliveries/${d.id}/resend`, { method: "POST" });
    } catch (e) {
      setFailed(e instanceof ApiError ? e.message : t("error.generic"));
    }
    await read();
  };

  return (
    <div className="deliveries" data-testid="webhook-deliveries">
      {failed && (
        <p className="error" role="alert">
          {failed}
        </p>
      )}
      {items && items.length === 0 && <p className="empty">{t("webhooks.noDeliveries")}</p>}
      {items && items.length > 0 && (
        <table className="grid">
          <thead>
            <tr>
              <th>{t("webhooks.time")}</th>
              <th>{t("webhooks.event")}</th>
              <th>{t("webhooks.status")}</th>
              <th>{t("webhooks.code")}</th>
              <th>{t("webhooks.attempts")}</th>
              <th>{t("webhooks.nextAttempt")}</th>
              <th>{t("webhooks.lastError")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-testid="delivery" data-delivery-id={d.id} data-status={shownStatus(d)}>
                <td>{when(d.createdAt)}</td>
                <td>
                  <code>{d.type}</code>
                </td>
                <td data-testid="delivery-status">{t(`webhooks.status.${shownStatus(d)}`)}</td>
                <td data-testid="delivery-code">{d.responseStatus ?? "—"}</td>
                <td data-testid="delivery-attempts">{d.attempts}</td>
                <td>{d.nextAttemptAt ? when(d.nextAttemptAt) : "—"}</td>
                <td className="delivery-error">{d.lastError ?? ""}</td>
                <td>
                  {shownStatus(d) !== "pending" && (
                    <button type="button" onClick={() => void resend(d)} data-testid="delivery-resend">
                      {t("webhooks.resend")}
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
