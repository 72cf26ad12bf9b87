import { useState } from "react";
import { useI18n } from "./i18n.ts";
import type { Frame } from "./realtime.ts";
import { useFrames } from "./workspace.tsx";

type Alert = { key: string; type: "sla.warning" | "sla.breached"; metric: string; href: string | null };
const MAX_SHOWN = 5;

/**
 * Supervisors' alerts for `sla.warning` and `sla.breached` from the realtime socket: a toast per clock,
 * the newest on top, with a link to the conversation or the ticket.
 */
export function SlaAlerts() {
  const { t } = useI18n();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  useFrames((f: Frame) => {
    if (f.type !== "sla.warning" && f.type !== "sla.breached") return;
    const href = f.conversationId
      ? `#/inbox/all/${f.conversationId}`
      : f.ticketId
        ? `#/tickets/all/${f.ticketId}`
        : null;
    const alert: Alert = { key: `${f.seq}`, type: f.type, metric: String(f.metric), href };
    setAlerts((shown) => [alert, ...shown.filter((a) => a.key !== alert.key)].slice(0, MAX_SHOWN));
  }, []);
  if (!alerts.length) return null;
  const dismiss = (key: string) => setAlerts((shown) => shown.filter((a) => a.key !== key));
  return (
    <div className="toasts sla-alerts" aria-live="polite" style={{ top: 64, bottom: "auto" }}>
      {alerts.map((a) => {
        const metric = t(`sla.metric.${a.metric}` as "sla.metric.first_response");
        return (
          <div
            key={a.key}
            className={`toast sla-alert ${a.type === "sla.breached" ? "breached" : "due"}`}
            role="status"
            data-testid="sla-alert"
            data-type={a.type}
          >
            <p>
              {a.type === "sla.breached" ? t("sla.alert.breached", { metric }) : t("sla.alert.warning", { metric })}
            </p>
            {a.href && (
              <a href={a.href} onClick={() => dismiss(a.key)}>
                {t("sla.alert.open")}
              </a>
            )}{" "}
            <button type="button" onClick={() => dismiss(a.key)}>
              {t("sla.alert.dismiss")}
            </button>
          </div>
        );
      })}
    </div>
  );
}
