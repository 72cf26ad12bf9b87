import { useEffect, useState } from "react";
import { request } from "../client.ts";
import { useI18n } from "../i18n.ts";
import type { MessageKey } from "../catalog.ts";
import { TICKET_PRIORITIES, TICKET_STATUSES } from "../ticket-model.ts";

/** What a rule or a macro can do, one editor row each (the server checks them: automation/action.ts). */
export const ACTION_TYPES = [
  "label",
  "remove_label",
  "reply",
  "note",
  "set_priority",
  "assign_queue",
  "assign_team",
  "assign_agent",
  "create_ticket",
  "set_ticket_status",
  "webhook",
  "close",
] as const;
export type Action = { type: string } & Record<string, unknown>;
const PRIORITIES = [...TICKET_PRIORITIES];
const STATUSES = [...TICKET_STATUSES];

type Named = { id: string; name: string };
type Choices = { queues: Named[]; teams: Named[]; agents: Named[]; webhooks: Named[]; canned: Named[] };

/** The queues, teams, agents, webhooks and canned responses an action may name, for its pickers. */
export function useChoices(): Choices {
  const [choices, setChoices] = useState<Choices>({ queues: [], teams: [], agents: [], webhooks: [], canned: [] });
  useEffect(() => {
    const get = (path: string, name: (x: any) => string) =>
      request<{ items: any[] }>(path).then(
        (r) => r.items.map((x) => ({ id: x.id as string, name: name(x) })),
        () => [] as Named[],
      );
    void Promise.all([
      get("/queues", (q) => q.name),
      get("/teams", (x) => x.name),
      get("/agents", (a) => a.name),
      get("/webhooks", (w) => w.url),
      get("/canned-responses", (c) => `/${c.shortcut} ${c.title}`),
    ]).then(([queues, teams, agents, webhooks, canned]) =>
      setChoices({ queues: queues!, teams: teams!, agents: agents!, webhooks: webhooks!, canned: canned! }),
    );
  }, []);
  return choices;
}

const ID_FIELD: Record<string, [string, keyof Choices]> = {
  assign_queue: ["queueId", "queues"],
  assign_team: ["teamId", "teams"],
  assign_agent: ["userId", "agents"],
  webhook: ["webhookId", "webhooks"],
};

/** A rule's or macro's actions, one row each, edited in place. */
export function ActionList({
  actions,
  setActions,
  types,
  choices,
}: {
  actions: Action[];
  setActions: (update: (actions: Action[]) => Action[]) => void;
  types: readonly string[];
  choices: Choices;
}) {
  return (
    <ul className="cards">
      {actions.map((a, i) => (
        <ActionRow
          key={i}
          index={i}
          action={a}
          types={types}
          choices={choices}
          onChange={(next) => setActions((as) => as.map((x, j) => (j === i ? next : x)))}
          onRemove={() => setActions((as) => as.filter((_, j) => j !== i))}
        />
      ))}
    </ul>
  );
}

/** One action row: its type and the fields that type needs, with pickers for ids. */
function ActionRow({
  action,
  types,
  choices,
  onChange,
  onRemove,
  index,
}: {
  action: Action;
  types: readonly string[];
  choices: Choices;
  onChange: (a: Action) => void;
  onRemove: () => void;
  index: number;
}) {
  const { t } = useI18n();
  const set = (key: string, value: unknown) => onChange({ ...action, [key]: value === "" ? undefined : value });
  const pick = (key: string, items: Named[] | string[]) => (
    <select
      value={String(action[key] ?? "")}
      onChange={(e) => set(key, e.target.value)}
      data-testid={`action-${index}-${key}`}
    >
      <option value="">{t("automation.choose")}</option>
      {items.map((x) =>
        typeof x === "string" ? (
          <option key={x} value={x}>
            {x}
          </option>
        ) : (
          <option key={x.id} value={x.id}>
            {x.name}
          </option>
        ),
      )}
    </select>
  );
  const text = (key: string) => (
    <input
      value={String(action[key] ?? "")}
      placeholder={t("automation.value")}
      onChange={(e) => set(key, e.target.value)}
      data-testid={`action-${index}-${key}`}
    />
  );
  const idField = ID_FIELD[action.type];
  return (
    <li className="row-form" data-testid="action-row">
      <select
        value={action.type}
        onChange={(e) => onChange({ type: e.target.value })}
        data-testid={`action-${index}-type`}
        aria-label={t("automation.actions")}
      >
        {types.map((x) => (
          <option key={x} value={x}>
            {t(`automation.do.${x}` as MessageKey)}
          </option>
        ))}
      </select>
      {idField && pick(idField[0], choices[idField[1]])}
      {(action.type === "label" || action.type === "remove_label") && text("value")}
      {action.type === "set_priority" && pick("value", PRIORITIES)}
      {action.type === "set_ticket_status" && pick("value", STATUSES)}
      {action.type === "note" && text("body")}
      {action.type === "reply" && (
        <>
          {text("body")}
          {pick("cannedId", choices.canned)}
        </>
      )}
      {action.type === "create_ticket" && (
        <>
          {text("title")}
          {pick("priority", PRIORITIES)}
          {pick("teamId", choices.teams)}
        </>
      )}
      <button type="button" onClick={onRemove}>
        {t("automation.remove")}
      </button>
    </li>
  );
}
