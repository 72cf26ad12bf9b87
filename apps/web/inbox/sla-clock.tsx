import { useNow } from "./hooks.ts";
import { clock, useI18n } from "./i18n.ts";

/** The `sla` of a conversation or a ticket, as the API gives it (sla/view.ts). */
export type SlaView = {
  policyId: string | null;
  firstResponseDueAt: string | null;
  nextResponseDueAt: string | null;
  resolutionDueAt: string | null;
  breached: string[];
  /** When the nearest live target reaches its warning share (e.g. 80 %); absent on older answers. */
  warnAt?: string | null;
};

/** The nearest live due time of an `sla`, or null when every clock is stopped or paused. */
export function nearestDue(sla: SlaView | null | undefined): string | null {
  if (!sla) return null;
  const due = [sla.firstResponseDueAt, sla.nextResponseDueAt, sla.resolutionDueAt].filter((d): d is string => !!d);
  return due.sort((a, b) => Date.parse(a) - Date.parse(b))[0] ?? null;
}

/**
 * A live SLA clock: the time left to the nearest target, amber once the warning share has passed (or
 * in the last minute when the warning time is unknown), red and "overdue 5:00" once breached. Give it
 * an `sla` (conversation or ticket view) or a bare `dueAt` (the list's `slaDueAt`).
 */
export function SlaClock({
  sla,
  dueAt,
  warnAt,
  compact = false,
}: {
  sla?: SlaView | null;
  dueAt?: string | null;
  warnAt?: string | null;
  compact?: boolean;
}) {
  const { t } = useI18n();
  const now = useNow(1000);
  const due = dueAt ?? nearestDue(sla);
  const breachedMetrics = sla?.breached ?? [];
  if (!due && breachedMetrics.length === 0) return null;
  const left = due ? (Date.parse(due) - now) / 1000 : null;
  const warn = warnAt ?? sla?.warnAt ?? null;
  const state =
    (left !== null && left < 0) || (left === null && breachedMetrics.length > 0)
      ? "breached"
      : (warn ? Date.parse(warn) <= now : left !== null && left < 60)
        ? "warning"
        : "ok";
  const text =
    left === null
      ? t("sla.clock.breachedEarlier")
      : left < 0
        ? t("sla.clock.overdue", { t: clock(-left) })
        : t("sla.clock.left", { t: clock(left) });
  const title = [
    t("sla.clock.title"),
    ...breachedMetrics.map((m) => t(`sla.metric.${m}` as "sla.metric.first_response")),
  ].join(" · ");
  return (
    <span
      className={`sla sla-clock ${state === "breached" ? "breached" : state === "warning" ? "due" : ""}`}
      data-testid="sla-clock"
      data-state={state}
      title={title}
    >
      {compact ? "" : "⏲ "}
      {text}
    </span>
  );
}
