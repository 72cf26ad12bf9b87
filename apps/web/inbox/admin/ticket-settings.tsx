import { useEffect, useState, type FormEvent } from "react";
import type { MessageKey } from "../catalog.ts";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { useTicketSetup } from "../ticket-badges.tsx";
import { TICKET_FIELD_KINDS, TICKET_STATUSES, type TicketType } from "../ticket-model.ts";
import { Field, useSubmit } from "./form.tsx";

type Notices = Record<string, { en?: string; "zh-CN"?: string }>;
/** GET/PUT /ticket-notices: the workspace's own texts, and the built-in ones it falls back to. */
type NoticeSettings = { notices: Notices; defaults: Notices };

/** Settings → Tickets: the ticket types, the custom fields, and what the customer is told per status. */
export function TicketSettings() {
  const { t } = useI18n();
  const { types, fields, reload } = useTicketSetup();
  const { submit, error } = useSubmit();
  const run = (fn: () => Promise<unknown>) => submit(fn).then(async (ok) => (ok && (await reload()), ok));

  const addType = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const zh = String(data.get("zh") ?? "").trim();
    const body = { name: String(data.get("name")).trim(), ...(zh ? { labels: { "zh-CN": zh } } : {}) };
    if (await run(() => request("/ticket-types", { body }))) form.reset();
  };
  const addField = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const options = String(data.get("options") ?? "")
      .split(/[,，]/)
      .map((o) => o.trim())
      .filter(Boolean);
    const body = {
      key: String(data.get("key")).trim(),
      label: String(data.get("label")).trim(),
      kind: data.get("kind"),
      required: data.get("required") === "on",
      ...(data.get("kind") === "select" ? { options } : {}),
    };
    if (await run(() => request("/ticket-fields", { body }))) form.reset();
  };

  return (
    <>
      <h2>{t("admin.tickets")}</h2>
      {error}
      <section aria-labelledby="ticket-types-h">
        <h3 id="ticket-types-h">{t("tickets.admin.types")}</h3>
        <ul className="cards" data-testid="ticket-types">
          {types.map((x) => (
            <TypeCard
              key={x.id}
              type={x}
              onSave={(patch) => run(() => request(`/ticket-types/${x.id}`, { method: "PATCH", body: patch }))}
              onDelete={() => run(() => request(`/ticket-types/${x.id}`, { method: "DELETE" }))}
            />
          ))}
        </ul>
        <form className="row-form" onSubmit={addType} data-testid="ticket-type-form">
          <Field label={t("tickets.admin.typeName")}>
            <input name="name" required maxLength={60} />
          </Field>
          <Field label={t("tickets.admin.labelZh")}>
            <input name="zh" maxLength={60} />
          </Field>
          <button type="submit" className="primary">
            {t("common.add")}
          </button>
        </form>
      </section>

      <section aria-labelledby="ticket-fields-h">
        <h3 id="ticket-fields-h">{t("tickets.admin.fields")}</h3>
        <table className="ticket-field-table" data-testid="ticket-field-table">
          <thead>
            <tr>
              <th>{t("tickets.admin.key")}</th>
              <th>{t("tickets.admin.label")}</th>
              <th>{t("tickets.admin.kind")}</th>
              <th>{t("tickets.admin.options")}</th>
              <th>{t("tickets.admin.required")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {fields.map((f) => (
              <tr key={f.id} data-key={f.key}>
                <td>
                  <code>{f.key}</code>
                </td>
                <td dir="auto">{f.label}</td>
                <td>{t(`tickets.admin.kind.${f.kind}` as MessageKey)}</td>
                <td dir="auto">{f.options.join(", ")}</td>
                <td>
                  <input
                    type="checkbox"
                    checked={f.required}
                    aria-label={t("tickets.admin.required")}
                    onChange={() =>
                      run(() => request(`/ticket-fields/${f.id}`, { method: "PATCH", body: { required: !f.required } }))
                    }
                  />
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => run(() => request(`/ticket-fields/${f.id}`, { method: "DELETE" }))}
                  >
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <form className="row-form" onSubmit={addField} data-testid="ticket-field-form">
          <Field label={t("tickets.admin.key")}>
            <input name="key" required pattern="[a-z][a-z0-9_]{0,39}" maxLength={40} placeholder="order_no" />
          </Field>
          <Field label={t("tickets.admin.label")}>
            <input name="label" required maxLength={100} />
          </Field>
          <Field label={t("tickets.admin.kind")}>
            <select name="kind">
              {TICKET_FIELD_KINDS.map((k) => (
                <option key={k} value={k}>
                  {t(`tickets.admin.kind.${k}` as MessageKey)}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t("tickets.admin.optionsHint")}>
            <input name="options" maxLength={2000} />
          </Field>
          <label className="field inline">
            <input type="checkbox" name="required" />
            <span>{t("tickets.admin.required")}</span>
          </label>
          <button type="submit" className="primary">
            {t("common.add")}
          </button>
        </form>
      </section>

      <NoticeTexts />
    </>
  );
}

function TypeCard({
  type,
  onSave,
  onDelete,
}: {
  type: TicketType;
  onSave(patch: { name: string; labels: Record<string, string> }): Promise<boolean>;
  onDelete(): void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState(type.name);
  const [en, setEn] = useState(type.labels.en ?? "");
  const [zh, setZh] = useState(type.labels["zh-CN"] ?? "");
  return (
    <li data-type-name={type.name}>
      <form
        className="row-form"
        onSubmit={(e) => {
          e.preventDefault();
          const labels: Record<string, string> = {};
          if (en.trim()) labels.en = en.trim();
          if (zh.trim()) labels["zh-CN"] = zh.trim();
          void onSave({ name: name.trim(), labels });
        }}
      >
        <Field label={t("tickets.admin.typeName")}>
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={60} />
        </Field>
        <Field label={t("tickets.admin.labelEn")}>
          <input value={en} onChange={(e) => setEn(e.target.value)} maxLength={60} />
        </Field>
        <Field label={t("tickets.admin.labelZh")}>
          <input value={zh} onChange={(e) => setZh(e.target.value)} maxLength={60} />
        </Field>
        <button type="submit">{t("common.save")}</button>
        <button type="button" onClick={onDelete}>
          {t("common.delete")}
        </button>
      </form>
    </li>
  );
}

/** Nothing is sent for a new ticket: the customer hears first when someone works on it. */
const NOTICE_STATUSES = TICKET_STATUSES.filter((s) => s !== "new");

/** What the customer is told when a ticket reaches each status; empty keeps the built-in text. */
function NoticeTexts() {
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [notices, setNotices] = useState<Notices | null>(null);
  const [defaults, setDefaults] = useState<Notices>({});
  const [saved, setSaved] = useState(false);
  const show = (s: NoticeSettings) => (setNotices(s.notices), setDefaults(s.defaults));
  useEffect(() => void request<NoticeSettings>("/ticket-notices").then(show, () => setNotices({})), []);
  if (!notices) return <div aria-busy="true" />;
  const set = (status: string, lang: "en" | "zh-CN", text: string) => {
    setSaved(false);
    setNotices({ ...notices, [status]: { ...notices[status], [lang]: text } });
  };
  return (
    <form
      className="panel-form"
      aria-labelledby="ticket-notices-h"
      data-testid="ticket-notices"
      onSubmit={async (e) => {
        e.preventDefault();
        // Every status is sent (an empty one keeps the built-in text).
        const body = Object.fromEntries(NOTICE_STATUSES.map((s) => [s, notices[s] ?? {}]));
        const ok = await submit(async () => show(await request("/ticket-notices", { method: "PUT", body })));
        if (ok) setSaved(true);
      }}
    >
      <h3 id="ticket-notices-h">{t("tickets.admin.notices")}</h3>
      <p className="hint">{t("tickets.admin.noticesHint", { number: "{number}" })}</p>
      {NOTICE_STATUSES.map((status) => (
        <fieldset key={status}>
          <legend>{t(`tickets.status.${status}` as MessageKey)}</legend>
          <Field label="English">
            <textarea
              rows={2}
              value={notices[status]?.en ?? ""}
              placeholder={defaults[status]?.en}
              onChange={(e) => set(status, "en", e.target.value)}
              data-testid={`notice-${status}-en`}
            />
          </Field>
          <Field label="中文">
            <textarea
              rows={2}
              value={notices[status]?.["zh-CN"] ?? ""}
              placeholder={defaults[status]?.["zh-CN"]}
              onChange={(e) => set(status, "zh-CN", e.target.value)}
              data-testid={`notice-${status}-zh-CN`}
            />
          </Field>
        </fieldset>
      ))}
      {error}
      <button type="submit" className="primary">
        {t("common.save")}
      </button>
      {saved && <span className="hint"> {t("tickets.admin.saved")}</span>}
    </form>
  );
}
