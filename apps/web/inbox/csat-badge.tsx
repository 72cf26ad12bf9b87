import { useI18n } from "./i18n.ts";
import type { Conversation } from "./model.ts";

/** The customer's rating in the conversation header, once they answered the survey (the comment as its title). */
export function CsatBadge({ c }: { c: Conversation }) {
  const { t } = useI18n();
  const csat = (c as { csat?: { rating: number; comment: string | null } | null }).csat;
  if (!csat) return null;
  return (
    <span className="csat-badge" data-testid="conversation-csat" title={csat.comment ?? undefined}>
      {"★".repeat(csat.rating)}
      {"☆".repeat(5 - csat.rating)} {t("csat.received", { rating: csat.rating })}
    </span>
  );
}
