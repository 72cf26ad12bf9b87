import { useCallback, useEffect, useState, type FormEvent } from "react";
import { ApiError, request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { Channel } from "../model.ts";
import { useWorkspace } from "../workspace.tsx";
import { Field, useSubmit } from "./form.tsx";

type Condition = { field: string; op: string; value?: unknown };
type Policy = {
  id: string;
  name: string;
  firstResponseMinutes: number | null;
  nextResponseMinutes: number | null;
  resolutionMinutes: number | null;
  businessHours: boolean;
  conditions: Condition[];
};
type Calendar = { timeZone: string; weekly: Record<string, [string, string][]>; holidays: string[] } | null;

const CHANNELS: Channel[] = ["webchat", "email", "voice", "wechat", "slack", "sms", "whatsapp"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const valueOf = (p: Policy | null, field: string) => p?.conditions.find((c) => c.field === field)?.value;

/** The form's condition fields as the condition language: each one set is one condition. */
function conditionsFrom(d: FormData): Condition[] {
  const out: Condition[] = [];
  const get = (k: string) => String(d.get(k) ?? "").trim();
  if (get("kind")) out.push({ field: "kind", op: "equals", value: get("kind") });
  if (get("priority")) out.push({ field: "priority", op: "gte", value: get("priority") });
  if (d.get("vip")) out.push({ field: "vip", op: "equals", value: true });
  if (get("channel")) out.push({ field: "channel", op: "equals", value: get("channel") });
  if (get("queue")) out.push({ field: "queue", op: "equals", value: get("queue") });
  if (get("ticketType")) out.push({ field: "ticketType", op: "equals", value: get("ticketType") });
  return out;
}

/** Weekly hours as the text an admin types: one line per day, "mon 09:00-12:00 13:00-18:00". */
const weeklyText = (weekly: Record<string, [string, string][]>) =>
  DAYS.filter((d) => weekly[d]?.length)
    .map((d) => `${d} ${weekly[d]!.map(([a, b]) => `${a}-${b}`).join(" ")}`)
    .join("\n");
function weeklyFrom(text: string) {
  const weekly: Record<string, [string, string][]> = {};
  for (const line of text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    const [day, ...spans] = line.split(/\s+/);
    weekly[day!.toLowerCase()] = spans.map((s) => s.split("-") as [string, string]);
  }
  return weekly;
}

/** Settings → SLA: policies (targets, business hours, conditions, order) and the workspace calendar. */
export function SlaSettings() {
  const { t } = useI18n();
  const { queues } = useWorkspace();
  const [policies, setPolicies] = useState<Policy[]>([]);
  const [editing, setEditing] = useState<Policy | "new" | null>(null);
  const [calendar, setCalendar] = useState<Calendar | undefined>(undefined);
  const { submit, error } = useSubmit();
  const calendarForm = useSubmit();
  const load = useCallback(
    () =>
      Promise.all([
        request<{ items: Policy[] }>("/sla-policies").then((r) => setPolicies(r.items)),
        request<Calendar>("/workspace/calendar").then(setCalendar),
      ]).catch(() => {}),
    [],
  );
  useEffect(() => void load(), [load]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const minutes = (k: string) => (String(d.get(k) ?? "").trim() === "" ? null : Number(d.get(k)));
    const body = {
      name: String(d.get("name") ?? ""),
      firstResponseMinutes: minutes("firstResponseMinutes"),
      nextResponseMinutes: minutes("nextResponseMinutes"),
      resolutionMinutes: minutes("resolutionMinutes"),
      businessHours: !!d.get("businessHours"),
      conditions: conditionsFrom(d),
    };
    const ok = await submit(() =>
      editing === "new" || !editing
        ? request("/sla-policies", { body })
        : request(`/sla-policies/${editing.id}`, { method: "PATCH", body }),
    );
    if (ok) {
      setEditing(null);
      await load();
    }
  };
  const move = async (index: number, by: number) => {
    const ids = policies.map((p) => p.id);
    const [id] = ids.splice(index, 1);
    ids.splice(index + by, 0, id!);
    await submit(() => request("/sla-policies/order", { method: "PUT", body: { ids } }));
    await load();
  };
  const remove = async (p: Policy) => {
    if (!confirm(t("sla.admin.confirmDelete", { name: p.name }))) return;
    await submit(() => request(`/sla-policies/${p.id}`, { method: "DELETE" }));
    await load();
  };
  const saveCalendar = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget);
    const timeZone = String(d.get("timeZone") ?? "").trim();
    const body = timeZone
      ? {
          timeZone,
          weekly: weeklyFrom(String(d.get("weekly") ?? "")),
          holidays: String(d.get("holidays") ?? "")
            .split(/[\s,]+/)
            .filter(Boolean),
        }
      : null;
    const ok = await calendarForm.submit(async () => {
      if (body && Object.values(body.weekly).some((spans) => spans.some((s) => s.length !== 2)))
        throw new ApiError(400, "invalid", t("sla.admin.badHours"), "weekly");
      setCalendar(await request<Calendar>("/workspace/calendar", { method: "PUT", body }));
    });
    if (ok) await load();
  };

  const target = (m: number | null) => (m === null ? "—" : t("sla.admin.minutes", { n: m }));
  const current = editing === "new" ? null : editing;
  return (
    <div className="sla-settings">
      <h2>{t("sla.admin.policies")}</h2>
      <p className="hint">{t("sla.admin.orderHint")}</p>
      <table data-testid="sla-policies">
        <thead>
          <tr>
            <th scope="col">{t("sla.admin.name")}</th>
            <th scope="col">{t("sla.metric.first_response")}</th>
            <th scope="col">{t("sla.metric.next_response")}</th>
            <th scope="col">{t("sla.metric.resolution")}</th>
            <th scope="col">{t("sla.admin.businessHours")}</th>
            <th scope="col">{t("sla.admin.conditions")}</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {policies.map((p, i) => (
            <tr key={p.id} data-testid="sla-policy">
              <td>{p.name}</td>
              <td>{target(p.firstResponseMinutes)}</td>
              <td>{target(p.nextResponseMinutes)}</td>
              <td>{target(p.resolutionMinutes)}</td>
              <td>{p.businessHours ? t("sla.admin.yes") : t("sla.admin.no")}</td>
              <td>
                {p.conditions.length
                  ? p.conditions.map((c) => `${c.field} ${c.op} ${String(c.value ?? "")}`).join("; ")
                  : t("sla.admin.everything")}
              </td>
              <td>
                <button
                  type="button"
                  disabled={i === 0}
                  onClick={() => void move(i, -1)}
                  aria-label={t("sla.admin.up")}
                >
                  ↑
                </button>
                <button
                  type="button"
                  disabled={i === policies.length - 1}
                  onClick={() => void move(i, 1)}
                  aria-label={t("sla.admin.down")}
                >
                  ↓
                </button>
                <button type="button" onClick={() => setEditing(p)}>
                  {t("sla.admin.edit")}
                </button>
                <button type="button" onClick={() => void remove(p)}>
                  {t("sla.admin.delete")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error}
      {editing === null ? (
        <button type="button" onClick={() => setEditing("new")} data-testid="sla-new-policy">
          {t("sla.admin.new")}
        </button>
      ) : (
        <form onSubmit={save} className="admin-form" data-testid="sla-policy-form" key={current?.id ?? "new"}>
          <Field label={t("sla.admin.name")}>
            <input name="name" required defaultValue={current?.name ?? ""} />
          </Field>
          {(["firstResponseMinutes", "nextResponseMinutes", "resolutionMinutes"] as const).map((k) => (
            <Field key={k} label={t(`sla.admin.${k}`)}>
              <input name={k} type="number" min="0" step="any" defaultValue={current?.[k] ?? ""} />
            </Field>
          ))}
          <label className="check">
            <input name="businessHours" type="checkbox" defaultChecked={current?.businessHours ?? false} />{" "}
            {t("sla.admin.businessHoursHint")}
          </label>
          <fieldset>
            <legend>{t("sla.admin.conditions")}</legend>
            <Field label={t("sla.admin.kind")}>
              <select name="kind" defaultValue={String(valueOf(current, "kind") ?? "")}>
                <option value="">{t("sla.admin.any")}</option>
                <option value="conversation">{t("sla.admin.kindConversation")}</option>
                <option value="ticket">{t("sla.admin.kindTicket")}</option>
              </select>
            </Field>
            <Field label={t("sla.admin.priorityAtLeast")}>
              <select name="priority" defaultValue={String(valueOf(current, "priority") ?? "")}>
                <option value="">{t("sla.admin.any")}</option>
                {PRIORITIES.map((p) => (
                  <option key={p} value={p}>
                    {t(`sla.admin.priority.${p}` as "sla.admin.priority.low")}
                  </option>
                ))}
              </select>
            </Field>
            <label className="check">
              <input name="vip" type="checkbox" defaultChecked={valueOf(current, "vip") === true} />{" "}
              {t("sla.admin.vip")}
            </label>
            <Field label={t("sla.admin.channel")}>
              <select name="channel" defaultValue={String(valueOf(current, "channel") ?? "")}>
                <option value="">{t("sla.admin.any")}</option>
                {CHANNELS.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t("sla.admin.queue")}>
              <select name="queue" defaultValue={String(valueOf(current, "queue") ?? "")}>
                <option value="">{t("sla.admin.any")}</option>
                {queues.map((q) => (
                  <option key={q.id} value={q.id}>
                    {q.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t("sla.admin.ticketType")}>
              <input name="ticketType" defaultValue={String(valueOf(current, "ticketType") ?? "")} />
            </Field>
          </fieldset>
          <button type="submit" data-testid="sla-save-policy">
            {t("sla.admin.save")}
          </button>
          <button type="button" onClick={() => setEditing(null)}>
            {t("sla.admin.cancel")}
          </button>
        </form>
      )}

      <h2>{t("sla.admin.calendar")}</h2>
      <p className="hint">{t("sla.admin.calendarHint")}</p>
      {calendar !== undefined && (
        <form onSubmit={saveCalendar} className="admin-form" data-testid="sla-calendar-form">
          <Field label={t("sla.admin.timeZone")}>
            <input name="timeZone" placeholder="Asia/Shanghai" defaultValue={calendar?.timeZone ?? ""} />
          </Field>
          <Field label={t("sla.admin.weekly")}>
            <textarea
              name="weekly"
              rows={7}
              placeholder={"mon 09:00-12:00 13:00-18:00\nsat 22:00-06:00"}
              defaultValue={calendar ? weeklyText(calendar.weekly) : ""}
            />
          </Field>
          <Field label={t("sla.admin.holidays")}>
            <input
              name="holidays"
              placeholder="2026-10-01, 2026-10-02"
              defaultValue={calendar?.holidays.join(", ") ?? ""}
            />
          </Field>
          {calendarForm.error}
          <button type="submit">{t("sla.admin.saveCalendar")}</button>
        </form>
      )}
    </div>
  );
}
