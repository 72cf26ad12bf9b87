import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError, request, session } from "../client.ts";
import { useI18n } from "../i18n.ts";
import { Field, useSubmit } from "./form.tsx";

type Entry = {
  id: string;
  at: string;
  actor: { id: string; name: string | null } | null;
  action: string;
  subjectType: string | null;
  subjectId: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
};
type Filter = { from: string; to: string; action: string };

const DAY = 86_400_000;
const dateInput = (d: Date) => d.toISOString().slice(0, 10);

function query(f: Filter) {
  const q = new URLSearchParams();
  if (f.from) q.set("from", new Date(`${f.from}T00:00:00`).toISOString());
  // The whole "to" day counts.
  if (f.to) q.set("to", new Date(new Date(`${f.to}T00:00:00`).getTime() + DAY).toISOString());
  if (f.action) q.set("action", f.action);
  return q;
}

/** Settings → Privacy: the retention period and the audit log (docs/privacy.md). Admins only. */
export function PrivacySettings() {
  return (
    <>
      <Retention />
      <AuditLog />
    </>
  );
}

function Retention() {
  const { t } = useI18n();
  const { submit, error } = useSubmit();
  const [days, setDays] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    request<{ days: number | null }>("/workspace/retention").then(
      (r) => setDays(r.days === null ? "" : String(r.days)),
      () => setDays(""),
    );
  }, []);
  if (days === null) return null;
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setSaved(false);
    const value = String(new FormData(e.currentTarget).get("days") ?? "").trim();
    const ok = await submit(() =>
      request("/workspace/retention", { method: "PUT", body: { days: value ? Number(value) : null } }),
    );
    if (ok) setSaved(true);
  };
  return (
    <>
      <h2>{t("privacy.retention")}</h2>
      <p className="hint">{t("privacy.retentionHelp")}</p>
      <form className="row-form" onSubmit={save} data-testid="retention-form">
        <Field label={t("privacy.retentionDays")}>
          <input type="number" name="days" min={1} defaultValue={days} />
        </Field>
        <button type="submit">{t("privacy.retentionSave")}</button>
      </form>
      {error}
      {saved && <p className="notice">{t("privacy.retentionSaved")}</p>}
    </>
  );
}

function AuditLog() {
  const { t, locale } = useI18n();
  const [filter, setFilter] = useState<Filter>({
    from: dateInput(new Date(Date.now() - 30 * DAY)),
    to: "",
    action: "",
  });
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);

  const load = useCallback(
    async (cursor?: string) => {
      const q = query(filter);
      if (cursor) q.set("cursor", cursor);
      try {
        const page = await request<{ items: Entry[]; nextCursor: string | null }>(`/audit?${q}`);
        setEntries((old) => (cursor ? [...(old ?? []), ...page.items] : page.items));
        setNext(page.nextCursor);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) setForbidden(true);
        else throw e;
      }
    },
    [filter],
  );
  useEffect(() => void load(), [load]);

  if (forbidden) return <p className="notice">{t("privacy.forbidden")}</p>;
  const show = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    setFilter({
      from: String(d.get("from") ?? ""),
      to: String(d.get("to") ?? ""),
      action: String(d.get("action") ?? "").trim(),
    });
  };
  // The CSV needs the session's token, which a plain link cannot carry: fetched, then saved as a file.
  const download = async () => {
    const q = query(filter);
    q.set("format", "csv");
    const res = await fetch(`/api/v1/audit?${q}`, { headers: { authorization: `Bearer ${session.token}` } });
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "audit.csv";
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <>
      <h2>{t("privacy.audit")}</h2>
      <form className="row-form" onSubmit={show} data-testid="audit-filter">
        <Field label={t("privacy.from")}>
          <input type="date" name="from" defaultValue={filter.from} />
        </Field>
        <Field label={t("privacy.to")}>
          <input type="date" name="to" defaultValue={filter.to} />
        </Field>
        <Field label={t("privacy.action")}>
          <input type="text" name="action" defaultValue={filter.action} placeholder="pii.reveal" />
        </Field>
        <button type="submit">{t("privacy.show")}</button>
        <button type="button" onClick={() => void download()}>
          {t("privacy.csv")}
        </button>
      </form>
      {entries && entries.length === 0 && <p className="empty">{t("privacy.none")}</p>}
      {entries && entries.length > 0 && (
        <table className="table" data-testid="audit-log">
          <thead>
            <tr>
              <th>{t("privacy.at")}</th>
              <th>{t("privacy.actor")}</th>
              <th>{t("privacy.action")}</th>
              <th>{t("privacy.subject")}</th>
              <th>{t("privacy.detail")}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-action={e.action}>
                <td>{new Date(e.at).toLocaleString(locale)}</td>
                <td dir="auto">{e.actor ? (e.actor.name ?? e.actor.id) : t("privacy.system")}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.subjectType ? `${e.subjectType} ${e.subjectId ?? ""}` : "—"}</td>
                <td>
                  <code className="detail">{JSON.stringify(e.detail)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          {t("privacy.more")}
        </button>
      )}
    </>
  );
}
