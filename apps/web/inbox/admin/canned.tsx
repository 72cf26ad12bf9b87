import { useCallback, useEffect, useState, type FormEvent } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Canned } from "../model.ts";
import { Field, useSubmit } from "./form.tsx";

export function CannedResponses() {
  const { t } = useI18n();
  const [items, setItems] = useState<Canned[]>([]);
  const [editing, setEditing] = useState<Canned | null>(null);
  const { submit, error } = useSubmit();
  const load = useCallback(
    () =>
      request<{ items: Canned[] }>("/canned-responses").then(
        (r) => setItems(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void load(), [load]);
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const d = new FormData(form);
    const body = { shortcut: d.get("shortcut"), title: d.get("title"), body: d.get("body") };
    const ok = await submit(() =>
      editing
        ? request(`/canned-responses/${editing.id}`, { method: "PUT", body })
        : request("/canned-responses", { body }),
    );
    if (ok) {
      form.reset();
      setEditing(null);
      await load();
    }
  };
  return (
    <>
      <h2>{t("admin.canned")}</h2>
      <p className="hint">{t("admin.cannedHelp")}</p>
      <form className="panel-form" onSubmit={save} key={editing?.id ?? "new"} data-testid="canned-form">
        <Field label={t("admin.shortcut")}>
          <input name="shortcut" required maxLength={50} defaultValue={editing?.shortcut ?? ""} />
        </Field>
        <Field label={t("admin.title")}>
          <input name="title" required maxLength={200} defaultValue={editing?.title ?? ""} />
        </Field>
        <Field label={t("admin.body")}>
          <textarea name="body" required rows={4} maxLength={10000} defaultValue={editing?.body ?? ""} />
        </Field>
        <div className="row-form">
          <button type="submit" className="primary">
            {editing ? t("common.save") : t("common.add")}
          </button>
          {editing && (
            <button type="button" onClick={() => setEditing(null)}>
              {t("common.cancel")}
            </button>
          )}
        </div>
      </form>
      {error}
      <ul className="cards" data-testid="canned-items">
        {items.map((c) => (
          <li key={c.id}>
            <strong>/{c.shortcut}</strong> {c.title}
            <p dir="auto">{c.body}</p>
            <button type="button" onClick={() => setEditing(c)}>
              {t("common.edit")}
            </button>
            <button
              type="button"
              onClick={() => submit(() => request(`/canned-responses/${c.id}`, { method: "DELETE" })).then(load)}
            >
              {t("common.delete")}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
