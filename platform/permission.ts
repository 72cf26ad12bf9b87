import { Forbidden } from "./errors.ts";

/** The roles a user can have; the database's `role` enum is built from this list. */
export const roles = ["admin", "supervisor", "agent", "knowledge_editor"] as const;
export type Role = (typeof roles)[number];

/** Every permission, with what it lets a user do: docs/permissions.md is generated from these lines. */
export const permissions = {
  "account.self": "Sign out, read one's own account, presence and socket",
  "conversations.read": "Read conversations the visibility rule allows: own, unassigned and own teams'",
  "conversations.read_all": "Read every conversation of the workspace (widens conversations.read)",
  "conversations.reply": "Reply, write notes, set status and labels, type, transfer, start an email",
  "conversations.assign_any": "Assign a conversation to anyone (without it: to oneself or nobody)",
  "contacts.read": "Search contacts; a contact's profile lists only conversations its reader may see",
  "contacts.write": "Edit a contact, its notes and identities",
  "contacts.merge": "Merge two contacts (the merged one's conversations join the other)",
  "contacts.moderate": "Delete anyone's note on a contact",
  "calls.read": "A softphone token, the live calls (their callers' numbers) and a call",
  "calls.control": "Hold, mute, transfer, record and hang up one's own calls; dial out; browser calls",
  "calls.control_any": "Control any call of the workspace (widens calls.control)",
  "calls.monitor": "Listen to, whisper into or barge into a call",
  "presence.take_work": "Set one's own presence (available to take work) and see one's offers",
  "offers.accept": "Accept or turn down offered work",
  "agents.manage": "The agents' board; agents' skills and capacity; team members; skills",
  "users.read": "Users and teams by name, for pickers",
  "users.manage": "Create users and invitations; change a user's name, role, or disable them",
  "teams.manage": "Create, rename and delete teams",
  "inboxes.read": "The workspace's inboxes",
  "inboxes.manage": "Create and configure inboxes: email settings, phone lines, call lines, IVR flows",
  "ivr.read": "Read an inbox's IVR flow",
  "queues.read": "Queues, entry rules and skills",
  "queues.manage": "Create, change and delete queues and entry rules",
  "reports.live": "Live queue figures and queue history (the wallboard)",
  "spam.manage": "Mail held back as spam: list, release, delete, and read its raw copy",
  "canned.read": "Canned responses",
  "canned.manage": "Create, change and delete canned responses",
  "knowledge.read": "Read and search knowledge articles, suggest edits, insert into a reply",
  "knowledge.edit": "Write articles and categories, preview, read edit suggestions",
  "knowledge.reports": "Knowledge gaps and the article report",
  "webhooks.manage": "Outgoing webhooks: register, list and delete them, read their deliveries, re-send one",
  "tickets.read": "Read tickets the visibility rule allows (as for conversations), their history and links",
  "tickets.write": "Create tickets, change their status, priority, assignee and fields, comment and link them",
  "tickets.manage": "The workspace's ticket types and custom fields",
  "sla.manage": "SLA policies and the workspace's business calendar",
  "automation.manage": "Automation rules: create, change, order, delete, and dry-run them",
  "macros.apply": "Apply macros to conversations; keep personal macros",
  "macros.manage": "Create, change and delete macros shared with the workspace",
  "csat.read": "Satisfaction survey results of the workspace, by conversation, agent and queue",
  "reports.read": "Historical reports of the workspace, their CSV exports, the forecast and what-if staffing runs",
  "reports.schedule": "Reports mailed on a schedule: create, change and delete them",
  "qa.read": "The QA score and findings of a conversation one may see",
  "qa.review":
    "The QA review queue: confirm or dismiss findings, coaching notes, critical alerts, scores by agent and queue",
  "qa.manage": "The QA scorecard: rules, their weights and alerts; the transcription provider",
  pii: "See personal data unmasked (ID and bank-card numbers; phones and emails in exports and reports)",
  "audit.read": "The audit log: who revealed personal data, exported, erased or changed settings",
  "privacy.manage": "Data subject requests (export and erase a contact) and the retention policy",
} as const;
export type Permission = keyof typeof permissions;

const agentWork = [
  "account.self",
  "conversations.read",
  "conversations.reply",
  "contacts.read",
  "contacts.write",
  "calls.read",
  "calls.control",
  "presence.take_work",
  "offers.accept",
  "users.read",
  "inboxes.read",
  "queues.read",
  "canned.read",
  "knowledge.read",
  "tickets.read",
  "tickets.write",
  "macros.apply",
  "qa.read",
] as const satisfies readonly Permission[];

const supervision = [
  "conversations.read_all",
  "conversations.assign_any",
  "contacts.merge",
  "contacts.moderate",
  "calls.control_any",
  "calls.monitor",
  "agents.manage",
  "ivr.read",
  "queues.manage",
  "reports.live",
  "spam.manage",
  "canned.manage",
  "knowledge.reports",
  "tickets.manage",
  "sla.manage",
  "automation.manage",
  "macros.manage",
  "csat.read",
  "reports.read",
  "reports.schedule",
  "qa.review",
  "qa.manage",
  "pii",
] as const satisfies readonly Permission[];

/**
 * The one table of who may do what. Agents work conversations and calls; supervisors also oversee
 * them; admins also configure the workspace; knowledge editors write the knowledge base and never
 * touch customers, calls or routing (no contacts, no live callers, no presence, no offers).
 */
export const rolePermissions: Record<Role, readonly Permission[]> = {
  admin: Object.keys(permissions) as Permission[],
  supervisor: [...agentWork, ...supervision],
  agent: agentWork,
  knowledge_editor: [
    "account.self",
    "users.read",
    "inboxes.read",
    "queues.read",
    "canned.read",
    "knowledge.read",
    "knowledge.edit",
    "knowledge.reports",
  ],
};

const granted = new Map(roles.map((r) => [r, new Set<Permission>(rolePermissions[r])]));

export function can(actor: { role: Role }, permission: Permission) {
  return granted.get(actor.role)?.has(permission) ?? false;
}

export function requirePermission(actor: { role: Role }, permission: Permission) {
  if (!can(actor, permission)) throw new Forbidden(`Requires permission ${permission}`);
}
