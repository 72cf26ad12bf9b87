import { useCallback, useState } from "react";
import { catalog, type MessageKey } from "../catalog.ts";
import { ApiError } from "../client.ts";
import { useI18n } from "../i18n.ts";

type Refusal = { field: string | null; message: string };

/**
 * A form's refusal by the server (a 400 naming a field) shown at that field. The server speaks English:
 * in another language the catalog's explanation of the field (`<prefix>.<field>`, list indexes dropped:
 * `templates.0.contentSid` → `templates.contentSid`) is shown instead, with the server's words as its title.
 */
export function useRefusal(prefix: string, fields: readonly string[]) {
  const { t, locale } = useI18n();
  const [refusal, setRefusal] = useState<Refusal | null>(null);

  const refuse = useCallback(
    (err: unknown) => {
      if (!(err instanceof ApiError)) return setRefusal({ field: null, message: t("error.generic") });
      const field =
        err.field && fields.some((f) => err.field === f || err.field!.startsWith(`${f}.`)) ? err.field : null;
      const key = `${prefix}.${(field ?? "").replace(/\.\d+/g, "")}`;
      // WhatsApp template texts name their variables {{1}}, {{2}}: given as values, not placeholders.
      const explained =
        field && locale !== "en" && key in catalog.en ? t(key as MessageKey, { one: "{{1}}", two: "{{2}}" }) : null;
      setRefusal({ field, message: explained ?? err.message });
    },
    [fields, locale, prefix, t],
  );

  const invalid = (field: string) => (refusal?.field === field ? true : undefined);
  const errorAt = (field: string) =>
    refusal?.field === field ? (
      <span className="error" role="alert" data-testid="field-error" data-field={field}>
        {refusal.message}
      </span>
    ) : null;
  const general =
    refusal && !refusal.field ? (
      <p className="error" role="alert" data-testid="form-error">
        {refusal.message}
      </p>
    ) : null;
  return { refuse, clear: () => setRefusal(null), invalid, errorAt, general };
}
