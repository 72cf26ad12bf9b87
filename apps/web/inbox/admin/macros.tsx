import { useCallback, useEffect, useState } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { useWorkspace } from "../workspace.tsx";
import { ActionList, useChoices, type Action } from "./rule-actions.tsx";
import { Field, useSubmit } from "./form.tsx";

/** What a macro may do: a rule's actions on the conversation in front of the agent. */
const MACRO_ACTIONS = [
  "label",
  "remove_label",
  "reply",
  "note",
  "set_priority",
  "assign_queue",
  "assign_team",
  "assign_agent",
  "create_ticket",
  "close",
] as const;

export type MacroView = { id: string; name: string; actions: Action[]; personal: boolean; ownerId: string | null };

/** Settings → Macros: shared macros (macros.manage) and the signed-in user's personal ones. */
export function Macros() {
  const { t } = useI18n();
  const { me } = useWorkspace();
  const choices = useChoices();
  const { submit, error } = useSubmit();
  const [items, setItems] = useState<MacroView[]>([]);
  const [editing, setEditing] = useState<MacroView | null>(null);
  const [name, setName] = useState("");
  const [personal, setPersonal] = useState(me.role === "agent");
  const [actions, setActions] = useState<Action[]>([{ type: "label" }]);
  const load = useCallback(
    () =>
      request<{ items: MacroView[] }>("/macros").then(
        (r) => setItems(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void load(), [load]);
  const edit = (m: MacroView | null) => {
    setEditing(m);
    setName(m?.name ?? "");
    setPersonal(m ? m.personal : me.role === "agent");
    setActions(m?.actions ?? [{ type: "label" }]);
  };
  const save = async () => {
    const ok = await submit(() =>
      editing
        ? request(`/macros/${editing.id}`, { method: "PATCH", body: { name, actions } })
        : request("/macros", { body: { name, actions, personal } }),
    );
    if (ok) {
      edit(null);
      await load();
    }
  };
  return (
    <>
      <h2>{t("admin.macros")}</h2>
      <p className="hint">{t("macro.help")}</p>
      <div className="panel-form" data-testid="macro-editor">
        <Field label={t("automation.name")}>
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} data-testid="macro-name" />
        </Field>
        {!editing && (
          <label className="inline">
            <input type="checkbox" checked={personal} onChange={(e) => setPersonal(e.target.checked)} />{" "}
            {t("macro.personal")}
          </label>
        )}
        <ActionList actions={actions} setActions={setActions} types={MACRO_ACTIONS} choices={choices} />
        <div className="row-form">
          <button type="button" onClick={() => setActions((as) => [...as, { type: "label" }])}>
            {t("automation.addAction")}
          </button>
          <button type="button" className="primary" onClick={() => void save()} data-testid="macro-save">
            {t("macro.save")}
          </button>
          {editing && (
            <button type="button" onClick={() => edit(null)}>
              {t("common.cancel")}
            </button>
          )}
        </div>
        {error}
      </div>
      {!items.length && <p className="hint">{t("macro.none")}</p>}
      <ul className="cards" data-testid="macro-list">
        {items.map((m) => (
          <li key={m.id} data-testid="macro-item">
            <strong dir="auto">{m.name}</strong> · {m.personal ? t("macro.personal") : t("macro.shared")}
            <button type="button" onClick={() => edit(m)}>
              {t("common.edit")}
            </button>
            <button
              type="button"
              onClick={() => void submit(() => request(`/macros/${m.id}`, { method: "DELETE" })).then(load)}
            >
              {t("common.delete")}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
