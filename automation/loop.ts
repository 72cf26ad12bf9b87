import { compileConditions, type ConditionSubject } from "../conversations/condition.ts";
import type { RuleCondition } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";
import type { Action } from "./action.ts";

/** How many rule runs may lead to one another before the chain is stopped (a run at depth 3 is the last). */
export const MAX_DEPTH = 3;

/** What an action changes, as the condition field that reads it, and the value it leaves there. */
function effectOf(a: Action): { field: string; value: unknown } | undefined {
  switch (a.type) {
    case "label":
    case "remove_label":
      return { field: "labels", value: a.value };
    case "set_priority":
      return { field: "priority", value: a.value };
    case "assign_queue":
      return { field: "queue", value: a.queueId };
    case "assign_team":
      return { field: "team", value: a.teamId };
    case "assign_agent":
      return { field: "assignee", value: a.userId };
    case "close":
      return { field: "status", value: "resolved" };
    case "set_ticket_status":
      return { field: "status", value: a.value };
    default:
      return undefined;
  }
}

const NEGATIVE = new Set(["not_equals", "not_in", "not_contains", "absent"]);

const holds = (c: RuleCondition, s: Partial<ConditionSubject>) =>
  compileConditions([c]).matches({ kind: "conversation", ...s } as ConditionSubject);

/** Whether condition `c` is false once the action is done, so the rule cannot match its own result. */
function excludes(c: RuleCondition, a: Action, field: string, value: unknown) {
  if (c.field !== field) return false;
  if (a.type === "label") return NEGATIVE.has(c.op) && !holds(c, { labels: [String(value)] });
  if (a.type === "remove_label")
    return !NEGATIVE.has(c.op) && holds(c, { labels: [String(value)] }) && !holds(c, { labels: [] });
  const key = { queue: "queueId", team: "teamId", assignee: "assigneeId" }[field] ?? field;
  return !holds(c, { [key]: value } as Partial<ConditionSubject>);
}

/**
 * The save-time loop check: a rule waiting for an update (conversation.updated, ticket.updated) whose
 * action changes what its conditions read would fire on its own change, unless one of its actions
 * leaves a condition false (`label X` with `labels not_contains X`; `remove_label ping` with `labels
 * contains ping`). Such a rule is refused with a 400 naming `actions.<i>` (the run-time guard would stop
 * it, but silently). A ticket.created rule that creates tickets is refused likewise.
 */
export function assertNoSelfTrigger(event: string, conditions: RuleCondition[], actions: Action[]) {
  actions.forEach((a, i) => {
    if (event === "ticket.created" && a.type === "create_ticket")
      throw new Invalid("This rule would create a ticket on every ticket it creates", `actions.${i}`);
  });
  if (event !== "conversation.updated" && event !== "ticket.updated") return;
  const effects = actions.map(effectOf);
  const settled = effects.some(
    (e, i) => e !== undefined && conditions.some((c) => excludes(c, actions[i]!, e.field, e.value)),
  );
  if (settled) return;
  const at = effects.findIndex((e) => e !== undefined && conditions.some((c) => c.field === e.field));
  if (at < 0) return;
  const { field } = effects[at]!;
  throw new Invalid(
    `This rule changes ${field}, which its conditions read, and would run again on its own change: ` +
      `add a condition its result fails (e.g. ${field} not_contains or not_equals the new value)`,
    `actions.${at}`,
  );
}
