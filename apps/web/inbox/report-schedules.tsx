import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Field } from "./admin/form.tsx";
import type { MessageKey } from "./catalog.ts";
import { ApiError, request } from "./client.ts";
import { useI18n } from "./i18n.ts";
import { useWorkspace } from "./workspace.tsx";

type Schedule = {
  id: string;
  name: string;
  frequency: "daily" | "weekly";
  weekday: number | null;
  hour: number;
  groupBy: string;
  filters: Record<string, string[]>;
  recipients: string[];
  language: string;
  nextRunAt: string;
  lastSentAt: string | null;
};

export const SCHEDULE_GROUPS = ["day", "hour", "channel", "inbox", "queue", "team", "agent"] as const;
/** ISO weekday keys of the catalog (1 = Monday … 7 = Sunday) from the API's 0 = Sunday … 6. */
const weekdayKey = (d: number) => `reports.weekday.${d === 0 ? 7 : d}` as MessageKey;

/**
 * Reports → Schedules (reports.schedule): the reports mailed daily or weekly, with the page's current
 * filters; added, changed (its filters stay those it was made with) and deleted here. The server says why an input is refused, naming the field.
 */
export function ReportSchedules({ filters }: { filters: Record<string, string[]> }) {
  const { t, when } = useI18n();
  const { users, teams, queues, inboxes } = useWorkspace();
  const [items, setItems] = useState<Schedule[]>([]);
  const [frequency, setFrequency] = useState<"daily" | "weekly">("daily");
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Schedule | null>(null);
  const load = useCallback(
    () => request<{ items: Schedule[] }>("/reports/schedules").then((r) => setItems(r.items)),
    [],
  );
  useEffect(() => void load().catch(() => {}), [load]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const d = new FormData(form);
    setError(null);
    try {
      const fields = {
        name: String(d.get("name") ?? ""),
        frequency,
        ...(frequency === "weekly" ? { weekday: Number(d.get("weekday")) } : {}),
        hour: Number(d.get("hour")),
        groupBy: String(d.get("groupBy")),
        language: String(d.get("language")),
        recipients: String(d.get("recipients") ?? "")
          .split(/[,;\s]+/)
          .filter(Boolean),
      };
      if (editing) await request(`/reports/schedules/${editing.id}`, { method: "PATCH", body: fields });
      else await request("/reports/schedules", { body: { ...fields, filters } });
      form.reset();
      setEditing(null);
      setFrequency("daily");
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t("error.generic"));
    }
  };
  const edit = (s: Schedule) => {
    setError(null);
    setEditing(s);
    setFrequency(s.frequency);
  };
  const cancel = () => {
    setEditing(null);
    setFrequency("daily");
  };
  const remove = async (s: Schedule) => {
    if (!confirm(t("schedules.deleteConfirm", { name: s.name }))) return;
    await request(`/reports/schedules/${s.id}`, { method: "DELETE" });
    await load();
  };
  const timing = (s: Schedule) =>
    s.frequency === "weekly" && s.weekday !== null
      ? t("schedules.weeklyAt", { weekday: t(weekdayKey(s.weekday)), hour: s.hour })
      : t("schedules.dailyAt", { hour: s.hour });
  const names: Record<string, { id: string; name: string }[]> = {
    queueId: queues,
    agentId: users,
    teamId: teams,
    inboxId: inboxes,
  };
  const filterText = (f: Record<string, string[]>) =>
    Object.entries(f)
      .flatMap(([k, ids]) =>
        ids.map((id) =>
          k === "channel" ? t(`channel.${id}` as MessageKey) : (names[k]?.find((n) => n.id === id)?.name ?? id),
        ),
      )
      .join(", ") || t("reports.any");

  return (
    <section aria-labelledby="report-schedules" data-testid="report-schedules">
      <h2 id="report-schedules">{t("schedules.title")}</h2>
      <p className="muted">{t("schedules.intro")}</p>
      {items.length === 0 ? (
        <p className="empty">{t("schedules.none")}</p>
      ) : (
        <table className="grid" data-testid="schedule-list">
          <thead>
            <tr>
              <th>{t("schedules.name")}</th>
              <th>{t("schedules.when")}</th>
              <th>{t("reports.groupBy")}</th>
              <th>{t("schedules.filters")}</th>
              <th>{t("schedules.recipients")}</th>
              <th>{t("schedules.nextRun")}</th>
              <th>{t("schedules.lastSent")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id}>
                <th scope="row">{s.name}</th>
                <td>{timing(s)}</td>
                <td>{t(`reports.group.${s.groupBy}` as MessageKey)}</td>
                <td>{filterText(s.filters)}</td>
                <td>{s.recipients.join(", ")}</td>
                <td>{when(s.nextRunAt)}</td>
                <td>{s.lastSentAt ? when(s.lastSentAt) : t("schedules.never")}</td>
                <td>
                  <button type="button" onClick={() => edit(s)}>
                    {t("common.edit")}
                  </button>{" "}
                  <button type="button" onClick={() => remove(s)}>
                    {t("common.delete")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {/* Keyed by the schedule being changed: its values fill the fields afresh. */}
      <form className="row-form" onSubmit={save} data-testid="schedule-form" key={editing?.id ?? "new"}>
        <Field label={t("schedules.name")}>
          <input name="name" required maxLength={200} defaultValue={editing?.name} />
        </Field>
        <Field label={t("schedules.frequency")}>
          <select
            name="frequency"
            value={frequency}
            onChange={(e) => setFrequency(e.target.value as "daily" | "weekly")}
          >
            <option value="daily">{t("schedules.daily")}</option>
            <option value="weekly">{t("schedules.weekly")}</option>
          </select>
        </Field>
        {frequency === "weekly" && (
          <Field label={t("schedules.weekday")}>
            <select name="weekday" defaultValue={String(editing?.weekday ?? 1)}>
              {[1, 2, 3, 4, 5, 6, 0].map((d) => (
                <option key={d} value={d}>
                  {t(weekdayKey(d))}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label={t("schedules.hour")}>
          <select name="hour" defaultValue={String(editing?.hour ?? 7)}>
            {Array.from({ length: 24 }, (_, h) => (
              <option key={h} value={h}>
                {`${h}:00`}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("reports.groupBy")}>
          <select name="groupBy" defaultValue={editing?.groupBy ?? "day"}>
            {SCHEDULE_GROUPS.map((g) => (
              <option key={g} value={g}>
                {t(`reports.group.${g}` as MessageKey)}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("schedules.recipients")}>
          <input
            name="recipients"
            required
            placeholder="lead@example.com, ops@example.com"
            defaultValue={editing?.recipients.join(", ")}
          />
        </Field>
        <Field label={t("schedules.language")}>
          <select name="language" defaultValue={editing?.language ?? "en"}>
            <option value="en">English</option>
            <option value="zh-CN">中文</option>
          </select>
        </Field>
        <button type="submit">{editing ? t("common.save") : t("schedules.add")}</button>
        {editing && (
          <button type="button" onClick={cancel}>
            {t("common.cancel")}
          </button>
        )}
        {error && (
          <span className="error" role="alert">
            {error}
          </span>
        )}
      </form>
    </section>
  );
}
