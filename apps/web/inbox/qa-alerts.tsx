import { useEffect, useState } from "react";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import type { QaFinding } from "./qa-model.ts";
import { useFrames } from "./workspace.tsx";

type Alert = Pick<QaFinding, "id" | "rule" | "severity" | "excerpt"> & { conversationId: string };
const MAX_SHOWN = 5;

/**
 * Supervisors' toasts for critical QA findings (`qa.alert` on the socket, and those not yet
 * acknowledged when the page opens). "Got it" marks one read for this supervisor.
 */
export function QaAlerts() {
  const { t } = useI18n();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const add = (list: Alert[]) =>
    setAlerts((shown) => [...list, ...shown.filter((a) => !list.some((n) => n.id === a.id))].slice(0, MAX_SHOWN));
  useEffect(() => {
    request<{ items: QaFinding[] }>("/qa/alerts")
      .then((r) => add(r.items.slice(0, MAX_SHOWN)))
      .catch(() => {});
  }, []);
  useFrames((f) => {
    if (f.type !== "qa.alert" || !f.conversationId) return;
    add([{ ...(f.finding as Omit<Alert, "conversationId">), conversationId: f.conversationId }]);
  }, []);
  if (!alerts.length) return null;
  const read = (id: string) => {
    setAlerts((shown) => shown.filter((a) => a.id !== id));
    void request(`/qa/alerts/${id}/read`, { method: "POST", body: {} }).catch(() => {});
  };
  return (
    <div className="toasts qa-alerts" aria-live="assertive" style={{ top: 64, bottom: "auto", right: 330 }}>
      {alerts.map((a) => (
        <div key={a.id} className="toast qa-alert" role="alert" data-testid="qa-alert">
          <p>
            <strong>{t("qa.alert.title", { rule: a.rule })}</strong>
          </p>
          <p className="quote">“{a.excerpt}”</p>
          <div className="toast-actions">
            <a href={`#/inbox/all/${a.conversationId}`} onClick={() => read(a.id)}>
              {t("qa.alert.open")}
            </a>
            <button type="button" onClick={() => read(a.id)}>
              {t("qa.alert.read")}
            </button>
          </div>
        </div>
      ))}
    </div>
  );
}
