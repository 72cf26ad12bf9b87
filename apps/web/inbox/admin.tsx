import type { MessageKey } from "./catalog.ts";
import { useI18n } from "./i18n.ts";
import { useWorkspace } from "./workspace.tsx";
import { Agents } from "./admin/agents.tsx";
import { ApiKeys } from "./admin/api-keys.tsx";
import { CannedResponses } from "./admin/canned.tsx";
import { Inboxes } from "./admin/inboxes.tsx";
import { Queues } from "./admin/queues.tsx";
import { CsatResults } from "./admin/csat.tsx";
import { QaReview } from "./admin/qa-review.tsx";
import { QaScorecard } from "./admin/qa-scorecard.tsx";
import { SpamView } from "./admin/spam.tsx";
import { Teams } from "./admin/teams.tsx";
import { TicketSettings } from "./admin/ticket-settings.tsx";
import { Webhooks } from "./admin/webhooks.tsx";
import { Automations } from "./admin/automations.tsx";
import { Macros } from "./admin/macros.tsx";
import { SlaSettings } from "./admin/sla.tsx";
import { PrivacySettings } from "./admin/privacy.tsx";

const TABS = [
  { id: "inboxes", adminOnly: true },
  { id: "agents", adminOnly: false },
  { id: "teams", adminOnly: false },
  { id: "queues", adminOnly: false },
  { id: "canned", adminOnly: false },
  { id: "spam", adminOnly: false },
  { id: "tickets", adminOnly: false },
  { id: "csat", adminOnly: false },
  { id: "qa", adminOnly: false },
  { id: "scorecard", adminOnly: false },
  { id: "sla", adminOnly: false },
  { id: "automations", adminOnly: false },
  { id: "macros", adminOnly: false },
  { id: "apiKeys", adminOnly: true },
  { id: "webhooks", adminOnly: true },
  { id: "privacy", adminOnly: true },
] as const;

export function AdminPage({ tab }: { tab: string }) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const tabs = TABS.filter((x) => !x.adminOnly || me.role === "admin");
  const current = tabs.find((x) => x.id === tab)?.id ?? tabs[0]!.id;
  return (
    <div className="admin">
      <nav className="tabs" aria-label={t("nav.admin")}>
        {tabs.map((x) => (
          <a
            key={x.id}
            href={`#/admin/${x.id}`}
            aria-current={x.id === current ? "page" : undefined}
            data-testid={`admin-tab-${x.id}`}
          >
            {t(`admin.${x.id}` as MessageKey)}
          </a>
        ))}
      </nav>
      <section className="admin-body">
        {current === "inboxes" && <Inboxes />}
        {current === "agents" && <Agents />}
        {current === "teams" && <Teams />}
        {current === "queues" && <Queues />}
        {current === "canned" && <CannedResponses />}
        {current === "spam" && <SpamView />}
        {current === "tickets" && <TicketSettings />}
        {current === "csat" && <CsatResults />}
        {current === "qa" && <QaReview />}
        {current === "scorecard" && <QaScorecard />}
        {current === "sla" && <SlaSettings />}
        {current === "automations" && <Automations />}
        {current === "macros" && <Macros />}
        {current === "apiKeys" && <ApiKeys />}
        {current === "webhooks" && <Webhooks />}
        {current === "privacy" && <PrivacySettings />}
      </section>
    </div>
  );
}
