import type { ReactNode } from "react";
import { useI18n } from "../i18n.ts";

/** One approved WhatsApp template as channels/twilio-messaging/setup.ts takes it. */
export type TemplateDraft = { name: string; contentSid: string; language: string; body: string };

/** WhatsApp's numbered variables, given as values: `{{1}}` in a catalog text would read as a placeholder. */
export const VARIABLES = { one: "{{1}}", two: "{{2}}" };

export const emptyTemplate = (): TemplateDraft => ({ name: "", contentSid: "", language: "en", body: "" });

const PARTS = ["name", "contentSid", "language"] as const;

/**
 * The WhatsApp templates of an inbox: what agents may send outside the 24-hour window. Each is the
 * template's Content SID (HX…, from Twilio's Content Template Builder) and its text with {{1}}, {{2}}…
 * where the variables go, which the composer shows as a preview.
 */
export function TemplatesEditor({
  templates,
  onChange,
  errorAt,
  invalid,
}: {
  templates: TemplateDraft[];
  onChange(next: TemplateDraft[]): void;
  errorAt(field: string): ReactNode;
  invalid(field: string): true | undefined;
}) {
  const { t } = useI18n();
  const set = (i: number, part: keyof TemplateDraft, value: string) =>
    onChange(templates.map((tpl, j) => (j === i ? { ...tpl, [part]: value } : tpl)));
  return (
    <fieldset className="templates" data-testid="whatsapp-templates">
      <legend>{t("inboxForm.templates")}</legend>
      <p className="hint">{t("inboxForm.templatesHelp", VARIABLES)}</p>
      {templates.map((tpl, i) => (
        <div key={i} className="template" data-testid="whatsapp-template">
          {PARTS.map((part) => (
            <label key={part} className="field">
              <span>{t(`inboxForm.template.${part}`)}</span>
              <input
                value={tpl[part]}
                onChange={(e) => set(i, part, e.target.value)}
                placeholder={part === "contentSid" ? "HX…" : part === "language" ? "en, zh_CN" : undefined}
                spellCheck={false}
                aria-invalid={invalid(`templates.${i}.${part}`)}
              />
              {errorAt(`templates.${i}.${part}`)}
            </label>
          ))}
          <label className="field">
            <span>{t("inboxForm.template.body")}</span>
            <textarea
              rows={2}
              value={tpl.body}
              onChange={(e) => set(i, "body", e.target.value)}
              placeholder={t("inboxForm.template.bodyPlaceholder", VARIABLES)}
              aria-invalid={invalid(`templates.${i}.body`)}
            />
            {errorAt(`templates.${i}.body`)}
          </label>
          <button type="button" onClick={() => onChange(templates.filter((_, j) => j !== i))}>
            {t("inboxForm.template.remove")}
          </button>
        </div>
      ))}
      {errorAt("templates")}
      <button type="button" onClick={() => onChange([...templates, emptyTemplate()])} data-testid="add-template">
        {t("inboxForm.template.add")}
      </button>
    </fieldset>
  );
}
