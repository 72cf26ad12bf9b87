import { useState } from "react";
import { useI18n } from "../i18n.ts";

/**
 * A secret the server answers only at creation (an API key, a webhook or inbox secret): shown with a
 * copy button and a plain warning, and gone once the admin closes it (nothing keeps it in the browser).
 */
export function ShownOnce({
  values,
  onDone,
  testId,
}: {
  values: { label: string; value: string; name: string }[];
  onDone(): void;
  testId: string;
}) {
  const { t } = useI18n();
  return (
    <div className="shown-once" role="status" data-testid={testId}>
      <p>
        <strong>{t("once.warning")}</strong>
      </p>
      {values.map((v) => (
        <div key={v.name} className="shown-once-value">
          <span>{v.label}</span>
          <CopyValue value={v.value} testId={`${testId}-${v.name}`} />
        </div>
      ))}
      <button type="button" onClick={onDone} data-testid={`${testId}-done`}>
        {t("once.done")}
      </button>
    </div>
  );
}

/** One value in a code box with its copy button (webhook URLs, secrets). */
export function CopyValue({ value, testId }: { value: string; testId?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <span className="copy-value">
      <code data-testid={testId}>{value}</code>
      <button
        type="button"
        onClick={async () => {
          await navigator.clipboard?.writeText(value).catch(() => {});
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        }}
      >
        {copied ? t("admin.copied") : t("admin.copy")}
      </button>
    </span>
  );
}
