import { useEffect, useState } from "react";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";

/** "Macros" in a conversation's header: the shared and own macros, one applied on choosing it. */
export function MacroMenu({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const [macros, setMacros] = useState<{ id: string; name: string }[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    request<{ items: { id: string; name: string }[] }>("/macros").then(
      (r) => setMacros(r.items),
      () => setMacros([]),
    );
  }, []);
  if (!macros.length) return null;
  const apply = async (id: string) => {
    const macro = macros.find((m) => m.id === id);
    if (!macro) return;
    try {
      await request(`/conversations/${conversationId}/macros/${id}`, { method: "POST" });
      setMessage(t("macro.applied", { name: macro.name }));
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : t("error.generic"));
    }
  };
  return (
    <>
      <select
        value=""
        onChange={(e) => void apply(e.target.value)}
        aria-label={t("macro.menu")}
        data-testid="macro-menu"
      >
        <option value="">{t("macro.menu")}</option>
        {macros.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name}
          </option>
        ))}
      </select>
      {message && (
        <span role="status" className="hint" data-testid="macro-menu-status">
          {message}
        </span>
      )}
    </>
  );
}
