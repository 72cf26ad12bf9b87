import { useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field } from "./form.tsx";
import type { MessagingInbox } from "./messaging-card.tsx";
import { useRefusal } from "./refusal.tsx";
import { CopyValue, ShownOnce } from "./shown-once.tsx";
import { type TemplateDraft, TemplatesEditor } from "./whatsapp-templates.tsx";

export const MESSAGING_CHANNELS = ["sms", "whatsapp", "slack", "telegram", "api"] as const;
export type MessagingChannel = (typeof MESSAGING_CHANNELS)[number];

type FieldSpec = {
  /** As the server names it in a refusal (`greeting.en` is `{greeting: {en}}`). */
  name: string;
  /** Typed once, sealed on the server, never shown back. */
  secret?: boolean;
  optional?: boolean;
  multiline?: boolean;
  placeholder?: string;
};

const TWILIO: FieldSpec[] = [
  { name: "phoneNumber", placeholder: "+15005550006" },
  { name: "accountSid", placeholder: "AC…" },
  { name: "authToken", secret: true },
];
const API_BASE: FieldSpec = { name: "apiBaseUrl", optional: true, placeholder: "https://…" };

/** The fields of each channel, as its setup (channels/<name>/setup.ts) validates them: the server decides. */
const FIELDS: Record<MessagingChannel, FieldSpec[]> = {
  sms: [...TWILIO, API_BASE],
  whatsapp: [...TWILIO, API_BASE],
  slack: [
    { name: "teamId", placeholder: "T0123ABCD" },
    { name: "botToken", secret: true, placeholder: "xoxb-…" },
    { name: "signingSecret", secret: true },
    { name: "botUserId", placeholder: "U0123ABCD" },
    { name: "alertChannel", optional: true, placeholder: "C0123ABCD" },
    API_BASE,
  ],
  telegram: [
    { name: "botToken", secret: true, placeholder: "123456:ABC…" },
    { name: "secretToken", secret: true, optional: true },
    { name: "greeting.en", optional: true, multiline: true },
    { name: "greeting.zh-CN", optional: true, multiline: true },
    API_BASE,
  ],
  api: [{ name: "callbackUrl", placeholder: "https://app.example.com/switchboard/replies" }],
};

/** What the 201 carries beyond the listed inbox: secrets shown this once. */
type Created = MessagingInbox & { token?: string; secret?: string; secretToken?: string };

function bodyOf(channel: MessagingChannel, name: string, values: Record<string, string>, templates: TemplateDraft[]) {
  const given = (k: string) => values[k]?.trim() || undefined;
  const body: Record<string, unknown> = { name, channel };
  for (const f of FIELDS[channel]) if (!f.name.startsWith("greeting.")) body[f.name] = given(f.name);
  if (channel === "telegram") {
    const greeting = { en: given("greeting.en"), "zh-CN": given("greeting.zh-CN") };
    if (greeting.en || greeting["zh-CN"]) body.greeting = greeting;
  }
  if (channel === "whatsapp" && templates.length)
    body.templates = templates.map((tpl) => ({ ...tpl, language: tpl.language.trim() || undefined }));
  return body;
}

/**
 * Creates an SMS, WhatsApp, Slack, Telegram or API inbox (`POST /api/v1/inboxes`). A refusal shows at the
 * field the server names; what the server answers once (an API inbox's token and secret, a generated
 * Telegram secret) is shown once after creation, with the URLs to give the provider.
 */
export function MessagingInboxForm({ onCreated, onClose }: { onCreated(id: string): void; onClose(): void }) {
  const { t } = useI18n();
  const [channel, setChannel] = useState<MessagingChannel>("sms");
  const [values, setValues] = useState<Record<string, string>>({});
  const [templates, setTemplates] = useState<TemplateDraft[]>([]);
  const [made, setMade] = useState<Created | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = FIELDS[channel];
  const { refuse, clear, invalid, errorAt, general } = useRefusal("inboxForm.field", [
    "name",
    "templates",
    "greeting",
    ...fields.map((f) => f.name),
  ]);
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));

  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    clear();
    setBusy(true);
    try {
      const name = values.name?.trim() ?? "";
      const created = await request<Created>("/inboxes", { body: bodyOf(channel, name, values, templates) });
      // Secrets leave the browser's memory with the form.
      setValues({});
      setTemplates([]);
      setMade(created);
      onCreated(created.id);
    } catch (err) {
      refuse(err);
    } finally {
      setBusy(false);
    }
  };

  if (made) {
    const once = [
      made.token && { name: "token", label: t("inboxForm.once.token"), value: made.token },
      made.secret && { name: "secret", label: t("inboxForm.once.secret"), value: made.secret },
      made.secretToken && { name: "secretToken", label: t("inboxForm.secretToken"), value: made.secretToken },
    ].filter((v): v is { name: string; label: string; value: string } => Boolean(v));
    return (
      <div className="settings-form" data-testid="messaging-created" data-channel={made.channel}>
        <p className="notice" role="status">
          {t("inboxForm.created", { name: made.name, channel: t(`channel.${made.channel}` as MessageKey) })}
        </p>
        {made.webhookUrl && (
          <div className="webhook-url">
            <span>{t(`inboxForm.webhookUrl.${made.channel as MessagingChannel}`)}</span>
            <CopyValue value={made.webhookUrl} testId="created-webhook-url" />
          </div>
        )}
        {once.length > 0 ? (
          <ShownOnce testId="inbox-shown" values={once} onDone={onClose} />
        ) : (
          <button type="button" onClick={onClose}>
            {t("once.done")}
          </button>
        )}
      </div>
    );
  }

  return (
    <form className="settings-form" onSubmit={create} data-testid="messaging-form" data-channel={channel} noValidate>
      <Field label={t("inboxForm.channel")}>
        <select
          value={channel}
          onChange={(e) => {
            // What was typed for one provider (a Slack token, say) is not sent to another: only the name stays.
            setChannel(e.target.value as MessagingChannel);
            setValues((v) => ({ name: v.name ?? "" }));
            clear();
          }}
          data-testid="messaging-channel"
        >
          {MESSAGING_CHANNELS.map((c) => (
            <option key={c} value={c}>
              {t(`channel.${c}`)}
            </option>
          ))}
        </select>
      </Field>
      <p className="hint">{t(`inboxForm.intro.${channel}`)}</p>
      <Field label={t("admin.inboxName")}>
        <input
          name="name"
          value={values.name ?? ""}
          onChange={(e) => set("name", e.target.value)}
          maxLength={100}
          aria-invalid={invalid("name")}
        />
        {errorAt("name")}
      </Field>
      {fields.map((f) => {
        const label = `${t(`inboxForm.${f.name}` as MessageKey)}${f.optional ? t("inboxForm.optional") : ""}`;
        const common = {
          name: f.name,
          value: values[f.name] ?? "",
          placeholder: f.placeholder,
          spellCheck: false,
          "aria-invalid": invalid(f.name),
        };
        return (
          <Field key={`${channel}-${f.name}`} label={label}>
            {f.multiline ? (
              <textarea rows={2} {...common} onChange={(e) => set(f.name, e.target.value)} />
            ) : (
              <input
                type={f.secret ? "password" : "text"}
                autoComplete="off"
                {...common}
                onChange={(e) => set(f.name, e.target.value)}
              />
            )}
            {errorAt(f.name)}
          </Field>
        );
      })}
      {channel === "whatsapp" && (
        <TemplatesEditor templates={templates} onChange={setTemplates} errorAt={errorAt} invalid={invalid} />
      )}
      {channel !== "api" && <p className="hint">{t("wechat.admin.secretsKept")}</p>}
      {general}
      <button type="submit" className="primary" disabled={busy} data-testid="messaging-create">
        {t("inboxForm.create", { channel: t(`channel.${channel}`) })}
      </button>
    </form>
  );
}
