import { useEffect, useState } from "react";
import { fillTemplate, templatePlaceholders } from "../../../conversations/template-placeholders.ts";
import { ChannelBadge } from "./channel-badge.tsx";
import { useI18n } from "./i18n.ts";
import type { Channel, ReplyOption, WhatsappTemplate } from "./model.ts";
import { timeLeft } from "./reply-window.tsx";
import { smsSegments } from "./sms-segments.ts";

/** A WhatsApp template as the composer sends it: its Content SID and a value per placeholder. */
export type TemplateChoice = { contentSid: string; variables: Record<string, string> };

/** True when the template is chosen and every placeholder of its body has a value. */
export function templateReady(templates: WhatsappTemplate[], choice: TemplateChoice | null) {
  const template = choice && templates.find((t) => t.contentSid === choice.contentSid);
  return Boolean(template && templatePlaceholders(template.body).every((n) => choice.variables[n]?.trim()));
}

/** WhatsApp outside its window (or before the customer ever wrote): only an approved template may go. */
export const needsTemplate = (o: ReplyOption | undefined) =>
  o?.channel === "whatsapp" && (o.state === "window_closed" || o.state === "no_window_yet");

/** The customer's address as an agent reads it; a web visitor's generated id means nothing to them. */
const addressOf = (o: ReplyOption) => (o.to.kind === "visitor" ? null : o.to.value);

function StateBadge({ option, now }: { option: ReplyOption; now: number }) {
  const { t } = useI18n();
  const text =
    option.state === "open"
      ? option.closesAt
        ? t("via.closesIn", { d: timeLeft(t, Date.parse(option.closesAt) - now) })
        : null
      : // Only WhatsApp has templates to start with: a WeChat account the customer never wrote to is just closed.
        t(
          option.state === "no_window_yet" && option.channel !== "whatsapp"
            ? "via.state.window_closed"
            : `via.state.${option.state}`,
        );
  return text ? (
    <span className={`via-state via-${option.state}`} data-testid="via-state">
      {text}
    </span>
  ) : null;
}

/**
 * "Reply via": every inbox that reaches the contact, with its channel, name, the address it writes to
 * and whether a message can go now. An opted-out one cannot be chosen and says why.
 */
export function ReplyVia({
  options,
  value,
  now,
  onChange,
}: {
  options: ReplyOption[];
  value: string;
  now: number;
  onChange(inboxId: string): void;
}) {
  const { t, dateOnly } = useDate();
  const [open, setOpen] = useState(false);
  const chosen = options.find((o) => o.inboxId === value);
  return (
    <div className="reply-via" data-testid="reply-via">
      <button
        type="button"
        className="via-current"
        aria-expanded={open}
        aria-controls="reply-via-options"
        onClick={() => setOpen((o) => !o)}
        data-testid="reply-via-toggle"
      >
        <span className="via-label">{t("composer.via")}</span>
        {chosen && (
          <>
            <ChannelBadge channel={chosen.channel as Channel} inboxId={chosen.inboxId} /> {chosen.inboxName}
            {addressOf(chosen) && <span className="via-address">{addressOf(chosen)}</span>}
            <StateBadge option={chosen} now={now} />
          </>
        )}
        <span aria-hidden="true"> ▾</span>
      </button>
      {open && (
        <fieldset
          id="reply-via-options"
          className="via-options"
          data-testid="reply-via-options"
          onKeyDown={(e) => e.key === "Escape" && (e.stopPropagation(), setOpen(false))}
        >
          <legend className="visually-hidden">{t("composer.via")}</legend>
          {options.map((o) => {
            const blocked = o.state === "opted_out";
            return (
              <label
                key={o.inboxId}
                className={`via-option ${blocked ? "via-blocked" : ""}`}
                data-testid="reply-option"
                data-inbox={o.inboxId}
                data-state={o.state}
              >
                <input
                  type="radio"
                  name="reply-via"
                  value={o.inboxId}
                  checked={o.inboxId === value}
                  disabled={blocked}
                  onChange={() => (onChange(o.inboxId), setOpen(false))}
                />
                <ChannelBadge channel={o.channel as Channel} inboxId={o.inboxId} />
                <span className="via-name">{o.inboxName}</span>
                {addressOf(o) && <span className="via-address">{addressOf(o)}</span>}
                <StateBadge option={o} now={now} />
                {blocked && o.optedOutAt && (
                  <small className="via-reason">{t("via.optedOut", { date: dateOnly(o.optedOutAt) })}</small>
                )}
              </label>
            );
          })}
        </fieldset>
      )}
    </div>
  );
}

/** Dates without a time: an opt-out is a day, not a moment. */
function useDate() {
  const i18n = useI18n();
  const format = new Intl.DateTimeFormat(i18n.locale, { dateStyle: "medium" });
  return { ...i18n, dateOnly: (iso: string) => format.format(new Date(iso)) };
}

/** Why nothing can go through the chosen inbox: the customer opted out. */
export function OptedOutNotice({ option }: { option: ReplyOption }) {
  const { t, dateOnly } = useDate();
  return (
    <p className="notice via-opted-out" role="status" data-testid="opted-out-notice">
      {t("via.optedOut", { date: option.optedOutAt ? dateOnly(option.optedOutAt) : "—" })}
    </p>
  );
}

/**
 * WhatsApp outside the 24-hour window: the text box gives way to the inbox's approved templates — pick
 * one, fill its variables, read what the customer will get.
 */
export function TemplatePicker({
  option,
  value,
  onChange,
}: {
  option: ReplyOption;
  value: TemplateChoice | null;
  onChange(choice: TemplateChoice | null): void;
}) {
  const { t } = useI18n();
  const templates = option.templates ?? [];
  const template = value && templates.find((x) => x.contentSid === value.contentSid);
  // A single template is the obvious choice.
  useEffect(() => {
    if (!value && templates.length === 1) onChange({ contentSid: templates[0]!.contentSid, variables: {} });
  }, [value, templates, onChange]);
  return (
    <div className="template-picker" data-testid="template-picker">
      <p className="notice" role="status" data-testid="template-reason">
        {t(option.state === "no_window_yet" ? "template.reasonNew" : "template.reason")}
      </p>
      {templates.length === 0 ? (
        <p className="error">{t("template.none")}</p>
      ) : (
        <>
          <label className="field">
            <span>{t("template.choose")}</span>
            <select
              value={value?.contentSid ?? ""}
              onChange={(e) => onChange(e.target.value ? { contentSid: e.target.value, variables: {} } : null)}
              data-testid="template-select"
            >
              <option value="">{t("template.pick")}</option>
              {templates.map((x) => (
                <option key={x.contentSid} value={x.contentSid}>
                  {x.name} ({x.language})
                </option>
              ))}
            </select>
          </label>
          {template &&
            templatePlaceholders(template.body).map((n) => (
              <label key={n} className="field">
                <span>{t("template.variable", { placeholder: `{{${n}}}` })}</span>
                <input
                  type="text"
                  maxLength={1024}
                  value={value.variables[n] ?? ""}
                  onChange={(e) => onChange({ ...value, variables: { ...value.variables, [n]: e.target.value } })}
                  data-testid={`template-variable-${n}`}
                />
              </label>
            ))}
          {template && (
            <figure className="template-preview">
              <figcaption>{t("template.preview")}</figcaption>
              <p dir="auto" data-testid="template-preview">
                {fillTemplate(
                  template.body,
                  Object.fromEntries(Object.entries(value.variables).filter(([, v]) => v.trim())),
                )}
              </p>
            </figure>
          )}
        </>
      )}
    </div>
  );
}

/** Under an SMS draft: how many messages it costs and how full the last one is ("2 segments · 134/153"). */
export function SegmentCount({ text }: { text: string }) {
  const { t } = useI18n();
  const s = smsSegments(text);
  const vars = { n: s.segments, used: s.used, per: s.perSegment };
  return (
    <p className="hint sms-segments" data-testid="sms-segments" data-encoding={s.encoding}>
      {t(s.segments === 1 ? "sms.segment" : "sms.segments", vars)}
      {s.encoding === "UCS-2" && ` · ${t("sms.unicode")}`}
    </p>
  );
}
