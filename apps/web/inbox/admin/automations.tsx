import { useCallback, useEffect, useState } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { MessageKey } from "../catalog.ts";
import { Field, useSubmit } from "./form.tsx";
import { ACTION_TYPES, ActionList, useChoices, type Action } from "./rule-actions.tsx";

export const RULE_EVENTS = [
  "conversation.created",
  "conversation.updated",
  "conversation.resolved",
  "message.created",
  "ticket.created",
  "ticket.updated",
  "sla.warning",
  "sla.breached",
  "csat.received",
  "conversation.idle",
  "ticket.idle",
] as const;
// The condition language's fields and operators (conversations/condition.ts, which the browser bundle
// does not import: the server checks every rule when it is saved and names what it refuses).
const FIELDS = [
  "text",
  "channel",
  "inbox",
  "language",
  "status",
  "priority",
  "labels",
  "queue",
  "team",
  "assignee",
  "ticketType",
  "vip",
  "businessHours",
  "contact.plan",
];
const OPS = [
  "contains",
  "not_contains",
  "regex",
  "equals",
  "not_equals",
  "in",
  "not_in",
  "starts_with",
  "present",
  "absent",
  "gt",
  "gte",
  "lt",
  "lte",
];

type Condition = { field: string; op: string; value?: unknown };
type Rule = {
  id: string;
  name: string;
  event: string;
  conditions: Condition[];
  actions: Action[];
  afterMinutes: number | null;
  active: boolean;
};
const parseValue = (op: string, raw: string): unknown =>
  op === "in" || op === "not_in"
    ? raw
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
    : raw;

function RuleEditor({ rule, onSaved, onCancel }: { rule: Rule | null; onSaved: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const choices = useChoices();
  const { submit, error } = useSubmit();
  const [name, setName] = useState(rule?.name ?? "");
  const [event, setEvent] = useState(rule?.event ?? "conversation.created");
  const [afterMinutes, setAfterMinutes] = useState(String(rule?.afterMinutes ?? ""));
  const [conditions, setConditions] = useState<Condition[]>(rule?.conditions ?? []);
  const [actions, setActions] = useState<Action[]>(rule?.actions ?? [{ type: "label" }]);
  const [dry, setDry] = useState<{
    scanned: number;
    matched: { conversationId?: string; ticketId?: string; lastMessageText?: string; title?: string }[];
  } | null>(null);
  const timed = event.endsWith(".idle");
  const body = () => ({
    name,
    event,
    conditions,
    actions,
    afterMinutes: timed && afterMinutes ? Number(afterMinutes) : null,
  });
  const dryRun = () =>
    submit(async () => setDry(await request("/automations/dry-run", { body: { event, conditions, actions } })));
  const save = async () => {
    const ok = await submit(() =>
      rule
        ? request(`/automations/${rule.id}`, { method: "PATCH", body: body() })
        : request("/automations", { body: body() }),
    );
    if (ok) onSaved();
  };
  return (
    <div className="panel-form" data-testid="rule-editor">
      <Field label={t("automation.name")}>
        <input
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          maxLength={200}
          data-testid="rule-name"
        />
      </Field>
      <Field label={t("automation.event")}>
        <select value={event} onChange={(e) => setEvent(e.target.value)} data-testid="rule-event">
          {RULE_EVENTS.map((x) => (
            <option key={x} value={x}>
              {t(`automation.on.${x}` as MessageKey)}
            </option>
          ))}
        </select>
      </Field>
      {timed && (
        <Field label={t("automation.afterMinutes")}>
          <input
            type="number"
            min={0}
            step="any"
            value={afterMinutes}
            onChange={(e) => setAfterMinutes(e.target.value)}
          />
        </Field>
      )}
      <h3>{t("automation.conditions")}</h3>
      <ul className="cards">
        {conditions.map((c, i) => (
          <li key={i} className="row-form" data-testid="condition-row">
            <select
              value={c.field}
              onChange={(e) => setConditions((cs) => cs.map((x, j) => (j === i ? { ...x, field: e.target.value } : x)))}
              data-testid={`condition-${i}-field`}
            >
              {FIELDS.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
            <select
              value={c.op}
              onChange={(e) => setConditions((cs) => cs.map((x, j) => (j === i ? { ...x, op: e.target.value } : x)))}
              data-testid={`condition-${i}-op`}
            >
              {OPS.map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
            <input
              value={Array.isArray(c.value) ? c.value.join(", ") : String(c.value ?? "")}
              placeholder={t("automation.value")}
              onChange={(e) =>
                setConditions((cs) =>
                  cs.map((x, j) => (j === i ? { ...x, value: parseValue(x.op, e.target.value) } : x)),
                )
              }
              data-testid={`condition-${i}-value`}
            />
            <button type="button" onClick={() => setConditions((cs) => cs.filter((_, j) => j !== i))}>
              {t("automation.remove")}
            </button>
          </li>
        ))}
      </ul>
      <button
        type="button"
        onClick={() => setConditions((cs) => [...cs, { field: "text", op: "contains", value: "" }])}
        data-testid="add-condition"
      >
        {t("automation.addCondition")}
      </button>
      <h3>{t("automation.actions")}</h3>
      <ActionList actions={actions} setActions={setActions} types={ACTION_TYPES} choices={choices} />
      <button type="button" onClick={() => setActions((as) => [...as, { type: "label" }])} data-testid="add-action">
        {t("automation.addAction")}
      </button>
      <div className="row-form">
        <button type="button" onClick={() => void dryRun()} data-testid="rule-dry-run">
          {t("automation.dryRun")}
        </button>
        <button type="button" className="primary" onClick={() => void save()} data-testid="rule-save">
          {t("automation.save")}
        </button>
        <button type="button" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
      {error}
      {dry && (
        <div data-testid="dry-run-result">
          <p>{t("automation.dryRunResult", { matched: String(dry.matched.length), scanned: String(dry.scanned) })}</p>
          <ul className="cards">
            {dry.matched.map((m) => (
              <li key={m.conversationId ?? m.ticketId}>
                {m.conversationId ? (
                  <a href={`#/conversations/${m.conversationId}`} dir="auto">
                    {m.lastMessageText ?? m.conversationId}
                  </a>
                ) : (
                  <a href={`#/tickets/${m.ticketId}`} dir="auto">
                    {m.title}
                  </a>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

/** Settings → Automations: the rules in run order, each toggled, moved, edited, dry-run and saved. */
export function Automations() {
  const { t } = useI18n();
  const [rules, setRules] = useState<Rule[]>([]);
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const { submit, error } = useSubmit();
  const load = useCallback(
    () =>
      request<{ items: Rule[] }>("/automations").then(
        (r) => setRules(r.items),
        () => {},
      ),
    [],
  );
  useEffect(() => void load(), [load]);
  const move = (i: number, by: -1 | 1) => {
    const ids = rules.map((r) => r.id);
    [ids[i], ids[i + by]] = [ids[i + by]!, ids[i]!];
    void submit(() => request("/automations/order", { method: "PUT", body: { ids } })).then(load);
  };
  return (
    <>
      <h2>{t("admin.automations")}</h2>
      <p className="hint">{t("automation.help")}</p>
      {editing ? (
        <RuleEditor
          key={editing === "new" ? "new" : editing.id}
          rule={editing === "new" ? null : editing}
          onSaved={() => (setEditing(null), void load())}
          onCancel={() => setEditing(null)}
        />
      ) : (
        <button type="button" className="primary" onClick={() => setEditing("new")} data-testid="rule-new">
          {t("automation.new")}
        </button>
      )}
      {error}
      {!rules.length && <p className="hint">{t("automation.none")}</p>}
      <ol className="cards" data-testid="rule-list">
        {rules.map((r, i) => (
          <li key={r.id} data-testid="rule-item">
            <strong dir="auto">{r.name}</strong> · {t(`automation.on.${r.event}` as MessageKey)}
            <label className="inline">
              <input
                type="checkbox"
                checked={r.active}
                onChange={(e) =>
                  void submit(() =>
                    request(`/automations/${r.id}`, { method: "PATCH", body: { active: e.target.checked } }),
                  ).then(load)
                }
              />{" "}
              {t("automation.active")}
            </label>
            <button type="button" disabled={i === 0} onClick={() => move(i, -1)} aria-label={t("automation.up")}>
              ↑
            </button>
            <button
              type="button"
              disabled={i === rules.length - 1}
              onClick={() => move(i, 1)}
              aria-label={t("automation.down")}
            >
              ↓
            </button>
            <button type="button" onClick={() => setEditing(r)}>
              {t("common.edit")}
            </button>
            <button
              type="button"
              onClick={() => void submit(() => request(`/automations/${r.id}`, { method: "DELETE" })).then(load)}
            >
              {t("common.delete")}
            </button>
          </li>
        ))}
      </ol>
    </>
  );
}
