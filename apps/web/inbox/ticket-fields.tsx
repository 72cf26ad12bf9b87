import { useEffect, useState } from "react";
import { useI18n } from "./i18n.ts";
import type { TicketField, TicketFieldValue } from "./ticket-model.ts";

/** What an input holds, as the API takes it: empty clears, a number field sends a number when it is one. */
function fieldValue(field: TicketField, text: string): TicketFieldValue {
  if (text.trim() === "") return null;
  if (field.kind === "number" && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/**
 * The workspace's custom fields of a ticket, typed (text, number, date, select). The server checks
 * them; its refusal (a 400 naming `fields.<key>`) is shown next to that field.
 */
export function TicketFields({
  fields,
  values,
  error,
  onSave,
}: {
  fields: TicketField[];
  values: Record<string, TicketFieldValue>;
  error: { message: string; field?: string } | null;
  onSave(values: Record<string, TicketFieldValue>): Promise<boolean>;
}) {
  const { t } = useI18n();
  const shown = (v: TicketFieldValue | undefined) => (v === null || v === undefined ? "" : String(v));
  const [draft, setDraft] = useState<Record<string, string>>({});
  useEffect(() => setDraft(Object.fromEntries(fields.map((f) => [f.key, shown(values[f.key])]))), [fields, values]);
  if (!fields.length) return null;
  const changed = fields.filter((f) => (draft[f.key] ?? "") !== shown(values[f.key]));
  return (
    <form
      className="ticket-fields"
      data-testid="ticket-fields"
      onSubmit={(e) => {
        e.preventDefault();
        void onSave(Object.fromEntries(changed.map((f) => [f.key, fieldValue(f, draft[f.key] ?? "")])));
      }}
    >
      <h3>{t("tickets.fields")}</h3>
      {fields.map((f) => {
        const wrong = error?.field === `fields.${f.key}`;
        const common = {
          name: f.key,
          value: draft[f.key] ?? "",
          "aria-invalid": wrong || undefined,
          "data-testid": `field-${f.key}`,
          onChange: (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [f.key]: e.target.value })),
        };
        return (
          <label key={f.key} className="field">
            <span>
              {f.label}
              {f.required ? " *" : ""}
            </span>
            {f.kind === "select" ? (
              <select {...common}>
                <option value="">—</option>
                {f.options.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            ) : (
              // A number field is a text input: the server, not the browser, says what is wrong with "12abc".
              <input
                {...common}
                type={f.kind === "date" ? "date" : "text"}
                inputMode={f.kind === "number" ? "decimal" : undefined}
                dir="auto"
              />
            )}
            {wrong && (
              <span className="error field-error" role="alert" data-testid="field-error">
                {error.message}
              </span>
            )}
          </label>
        );
      })}
      <button type="submit" disabled={!changed.length} data-testid="fields-save">
        {t("tickets.saveFields")}
      </button>
    </form>
  );
}
