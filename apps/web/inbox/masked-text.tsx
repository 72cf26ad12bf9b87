import { useState } from "react";
import { can } from "../../../platform/permission.ts";
import { maskPii, VIEW_MASK } from "../../../platform/pii.ts";
import { request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { useWorkspace } from "./workspace.tsx";

/**
 * A message's text with ID and card numbers masked (docs/privacy.md). Users without `pii` get it masked
 * by the server and have nothing to reveal; users with it see it masked too — a screen may be shared or
 * watched — and "Reveal" asks the server, which writes who saw which message in the audit log.
 */
export function MessageText({
  text,
  conversationId,
  itemId,
}: {
  text: string;
  conversationId: string;
  itemId: string;
}) {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const [revealed, setRevealed] = useState<string | null>(null);
  const masked = maskPii(text, VIEW_MASK);
  const hidden = masked !== text && can(me, "pii");
  const reveal = async () => {
    const item = await request<{ text: string | null }>(`/conversations/${conversationId}/items/${itemId}/reveal`, {
      method: "POST",
    });
    setRevealed(item.text ?? text);
  };
  return (
    <>
      <p className="text" dir="auto" data-testid="item-text">
        {revealed ?? (hidden ? masked : text)}
      </p>
      {hidden && (
        <button
          type="button"
          className="link reveal"
          title={t("pii.revealNote")}
          data-testid="pii-reveal"
          onClick={() => (revealed === null ? void reveal() : setRevealed(null))}
        >
          {revealed === null ? t("pii.reveal") : t("pii.hide")}
        </button>
      )}
    </>
  );
}

/** A list preview: ID and card numbers masked for everyone (the full text is one click away). */
export const previewText = (text: string | null) => (text ? maskPii(text, VIEW_MASK) : "");
