import { useCallback, useState, type ReactNode } from "react";
import { ApiError } from "../client.ts";
import { useI18n } from "../i18n.ts";

/** Runs a form's request and shows the server's error next to the field it names. */
export function useSubmit() {
  const { t } = useI18n();
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const submit = useCallback(
    async (fn: () => Promise<unknown>) => {
      setError(null);
      try {
        await fn();
        return true;
      } catch (e) {
        setError(
          e instanceof ApiError
            ? { message: e.field ? `${e.field}: ${e.message}` : e.message, field: e.field }
            : { message: t("error.generic") },
        );
        return false;
      }
    },
    [t],
  );
  const shown = error ? (
    <p className="error" role="alert" data-field={error.field ?? ""}>
      {error.message}
    </p>
  ) : null;
  return { submit, error: shown };
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="field">
      <span>{label}</span>
      {children}
    </label>
  );
}
