import type { MessageKey } from "../catalog.ts";
import { useI18n } from "../i18n.ts";
import type { Inbox } from "../model.ts";
import { CopyValue } from "./shown-once.tsx";

/**
 * What `GET /api/v1/inboxes` shows of an SMS, WhatsApp, Slack, Telegram or API inbox (the setups'
 * `view` in apps/inbox/inbox-setup.ts and the API inbox's in apps/inbox/admin.ts): public ids only.
 */
export type MessagingInbox = Inbox & {
  phoneNumber?: string;
  accountSid?: string;
  templates?: { name: string; contentSid: string; language: string; body: string }[];
  teamId?: string;
  botUserId?: string;
  alertChannel?: string;
  botId?: string;
  botUsername?: string;
  callbackUrl?: string;
  statusCallbackUrl?: string;
};

const IDS = [
  "phoneNumber",
  "accountSid",
  "teamId",
  "botUserId",
  "alertChannel",
  "botId",
  "botUsername",
  "callbackUrl",
] as const;

/** A messaging inbox in the list: its public ids and the URL(s) to paste into the provider's console. */
export function MessagingInboxCard({ inbox }: { inbox: MessagingInbox }) {
  const { t } = useI18n();
  const channel = inbox.channel as "sms" | "whatsapp" | "slack" | "telegram" | "api";
  const ids = IDS.filter((k) => inbox[k]);
  return (
    <div className="messaging-inbox" data-testid="messaging-inbox" data-channel={channel}>
      {ids.length > 0 && (
        <dl className="ids">
          {ids.map((k) => (
            <div key={k}>
              <dt>{t(`inboxForm.${k}` as MessageKey)}</dt>
              <dd>
                <code data-testid={`inbox-${k}`}>{inbox[k]}</code>
              </dd>
            </div>
          ))}
        </dl>
      )}
      {inbox.templates && inbox.templates.length > 0 && (
        <p className="hint" data-testid="inbox-templates">
          {t("inboxForm.templatesListed", { names: inbox.templates.map((x) => x.name).join(", ") })}
        </p>
      )}
      {inbox.webhookUrl && (
        <div className="webhook-url">
          <span>{t(`inboxForm.webhookUrl.${channel}`)}</span>
          <CopyValue value={inbox.webhookUrl} testId="inbox-webhook-url" />
        </div>
      )}
      {inbox.statusCallbackUrl && (
        <div className="webhook-url">
          <span>{t("inboxForm.statusCallbackUrl")}</span>
          <CopyValue value={inbox.statusCallbackUrl} testId="inbox-status-callback-url" />
        </div>
      )}
      <p className="hint">{t(`inboxForm.howto.${channel}`)}</p>
    </div>
  );
}
