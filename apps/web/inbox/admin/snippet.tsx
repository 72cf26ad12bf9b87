import { useState } from "react";
import { useI18n } from "../i18n.ts";

/** A copyable block: an embed snippet or an invite link. */
export function Snippet({ code }: { code: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="snippet">
      <pre data-testid="embed-snippet">{code}</pre>
      <button
        type="button"
        onClick={async () => {
          await navigator.clipboard?.writeText(code).catch(() => {});
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        }}
      >
        {copied ? t("admin.copied") : t("admin.copy")}
      </button>
    </div>
  );
}
