import { useEffect, useMemo, useState } from "react";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";

type MacroChoice = { id: string; name: string };

/** The shared and own macros, read once `wanted` (the composer asks only when "/" is typed). */
function useMacros(wanted = true): MacroChoice[] {
  const [macros, setMacros] = useState<MacroChoice[] | null>(null);
  useEffect(() => {
    if (wanted && macros === null)
      request<{ items: MacroChoice[] }>("/macros").then(
        (r) => setMacros(r.items),
        () => setMacros([]),
      );
  }, [wanted, macros]);
  return macros ?? [];
}

/** The composer's "/" list: macros whose name holds what follows the slash (up to five). */
export function useMacroMatches(slash: string | undefined) {
  const macros = useMacros(slash !== undefined);
  return useMemo(() => {
    if (slash === undefined) return [];
    const q = slash.toLowerCase();
    return macros.filter((m) => m.name.toLowerCase().includes(q)).slice(0, 5);
  }, [slash, macros]);
}

export const applyMacro = (conversationId: string, macroId: string) =>
  request(`/conversations/${conversationId}/macros/${macroId}`, { method: "POST" });

/** "Macros" in a conversation's header: the shared and own macros, one applied on choosing it. */
export function MacroMenu({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const macros = useMacros();
  const [message, setMessage] = useState<string | null>(null);
  if (!macros.length) return null;
  const apply = async (id: string) => {
    const macro = macros.find((m) => m.id === id);
    if (!macro) return;
    try {
      await applyMacro(conversationId, id);
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
