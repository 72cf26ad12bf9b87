import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes, routePath } from "hono/route";
import type { Executor } from "../../db/connect.ts";
import { requireScope } from "../../conversations/api-key.ts";
import { Forbidden } from "../../platform/errors.ts";
import { requirePermission, type Permission } from "../../platform/permission.ts";
import { requireActor, type AuthEnv } from "./auth.ts";

/** Routes anyone may call: sign-in, accepting an invitation, and the API's own description. */
const PUBLIC = "public";
/**
 * Routes an integration calls with an inbox's own token instead of a user's session (the API channel's
 * customer messages, apps/gateway/api/): answered before the sign-in gate, good for their inbox only,
 * and a session or API key gets 401 there.
 */
const INBOX_TOKEN = "inbox_token";
export type RouteAccess = Permission | typeof PUBLIC | typeof INBOX_TOKEN;

/**
 * Every route of the agent API (under /api/v1) and the permission it needs. A route missing here is
 * refused to everyone (deny by default), and apps/inbox/permission.e2e.test.ts fails until it gets its row.
 * Finer rules live beside the data they guard: the visibility rule (conversations/actor.ts) on every
 * conversation, contact history, file and event; "own calls only" without calls.control_any.
 */
export const routePermissions: Record<string, RouteAccess> = {
  "POST /auth/login": PUBLIC,
  "POST /auth/invite/accept": PUBLIC,
  "GET /openapi.json": PUBLIC,
  "POST /inboxes/{id}/messages": INBOX_TOKEN,
  "POST /auth/logout": "account.self",
  "GET /me": "account.self",
  "GET /realtime": "account.self",

  "GET /conversations": "conversations.read",
  "GET /conversations/{id}": "conversations.read",
  "GET /conversations/{id}/timeline": "conversations.read",
  "GET /conversations/{id}/participants": "conversations.read",
  "GET /conversations/{id}/knowledge": "conversations.read",
  "POST /conversations/{id}/read": "conversations.read",
  "POST /conversations/{id}/messages": "conversations.reply",
  "POST /conversations/{id}/messages/{itemId}/retry": "conversations.reply",
  "POST /conversations/{id}/status": "conversations.reply",
  "POST /conversations/{id}/assign": "conversations.reply",
  "POST /conversations/{id}/transfer": "conversations.reply",
  "PUT /conversations/{id}/labels": "conversations.reply",
  "POST /conversations/{id}/typing": "conversations.reply",
  "POST /conversations/email": "conversations.reply",
  "POST /attachments": "conversations.reply",

  "GET /contacts": "contacts.read",
  "GET /contacts/{id}": "contacts.read",
  "PATCH /contacts/{id}": "contacts.write",
  "POST /contacts/{id}/notes": "contacts.write",
  "DELETE /contacts/{id}/notes/{noteId}": "contacts.write",
  "POST /contacts/{id}/identities": "contacts.write",
  "DELETE /contacts/{id}/identities/{identityId}": "contacts.write",
  "POST /contacts/{id}/merge": "contacts.merge",
  "POST /contacts/{id}/visitor-sessions/revoke": "contacts.write",
  // Personal data (docs/privacy.md): reveal needs pii; a data subject's export and erasure, retention, the audit log.
  "POST /conversations/{id}/items/{itemId}/reveal": "pii",
  "GET /contacts/{id}/export": "privacy.manage",
  "DELETE /contacts/{id}": "privacy.manage",
  "GET /workspace/retention": "privacy.manage",
  "PUT /workspace/retention": "privacy.manage",
  "GET /audit": "audit.read",

  "GET /voice/token": "calls.read",
  "GET /calls/live": "calls.read",
  "GET /calls/{id}": "calls.read",
  "GET /browser-calls": "calls.read",
  "POST /calls/{id}/hold": "calls.control",
  "POST /calls/{id}/mute": "calls.control",
  "POST /calls/{id}/hangup": "calls.control",
  "POST /calls/{id}/record": "calls.control",
  "POST /calls/{id}/transfer": "calls.control",
  "POST /calls/{id}/transfer/complete": "calls.control",
  "POST /calls/{id}/monitor/signal": "calls.control",
  "POST /conversations/{id}/calls": "calls.control",
  "POST /conversations/{id}/browser-calls": "calls.control",
  "POST /conversations/{id}/browser-calls/{callId}/answer": "calls.control",
  "POST /conversations/{id}/browser-calls/{callId}/connected": "calls.control",
  "POST /conversations/{id}/browser-calls/{callId}/signal": "calls.control",
  "POST /conversations/{id}/browser-calls/{callId}/hangup": "calls.control",
  "POST /calls/{id}/monitor": "calls.monitor",
  "POST /calls/{id}/monitor/stop": "calls.monitor",

  "GET /me/presence": "presence.take_work",
  "PUT /me/presence": "presence.take_work",
  "GET /me/offers": "presence.take_work",
  "POST /offers/{id}/accept": "offers.accept",
  "POST /offers/{id}/reject": "offers.accept",

  "GET /agents": "agents.manage",
  "PATCH /agents/{id}": "agents.manage",
  "PUT /teams/{id}/members": "agents.manage",
  "POST /skills": "agents.manage",
  "GET /users": "users.read",
  "GET /teams": "users.read",
  "POST /agents": "users.manage",
  "GET /api-keys": "users.manage",
  "POST /api-keys": "users.manage",
  "DELETE /api-keys/{id}": "users.manage",
  "POST /teams": "teams.manage",
  "PATCH /teams/{id}": "teams.manage",
  "DELETE /teams/{id}": "teams.manage",

  "GET /inboxes": "inboxes.read",
  "POST /inboxes": "inboxes.manage",
  "PATCH /inboxes/{id}": "inboxes.manage",
  "GET /inboxes/{id}/csat": "inboxes.manage",
  "PUT /inboxes/{id}/csat": "inboxes.manage",
  "GET /csat": "csat.read",
  "GET /csat/summary": "csat.read",
  "GET /forecast": "reports.read",
  "POST /what-if": "reports.read",
  "GET /conversations/{id}/qa": "qa.read",
  "GET /qa/findings": "qa.review",
  "PATCH /qa/findings/{id}": "qa.review",
  "GET /qa/summary": "qa.review",
  "GET /qa/alerts": "qa.review",
  "POST /qa/alerts/{id}/read": "qa.review",
  "GET /qa/rules": "qa.review",
  "POST /qa/rules": "qa.manage",
  "PATCH /qa/rules/{id}": "qa.manage",
  "DELETE /qa/rules/{id}": "qa.manage",
  "GET /reports/summary": "reports.read",
  "GET /reports/agents": "reports.read",
  "GET /reports/interactions": "reports.read",
  "GET /inboxes/{id}/email": "inboxes.manage",
  "PUT /inboxes/{id}/email": "inboxes.manage",
  "POST /inboxes/{id}/email/verification": "inboxes.manage",
  "POST /inboxes/{id}/email/verification/confirm": "inboxes.manage",
  "POST /inboxes/voice": "inboxes.manage",
  "PUT /inboxes/{id}/voice/credentials": "inboxes.manage",
  "GET /inboxes/{id}/call-line": "inboxes.manage",
  "PUT /inboxes/{id}/call-line": "inboxes.manage",
  "PUT /inboxes/{id}/ivr-flow": "inboxes.manage",
  "GET /inboxes/{id}/wechaty": "inboxes.manage",
  "POST /inboxes/{id}/wechaty/start": "inboxes.manage",
  "POST /inboxes/{id}/wechaty/stop": "inboxes.manage",
  "GET /inboxes/{id}/ivr-flow": "ivr.read",
  "GET /inboxes/{id}/email/spam": "spam.manage",
  "POST /inboxes/{id}/email/spam/{itemId}/release": "spam.manage",
  "DELETE /inboxes/{id}/email/spam/{itemId}": "spam.manage",

  "GET /queues": "queues.read",
  "GET /entry-rules": "queues.read",
  "GET /skills": "queues.read",
  "POST /queues": "queues.manage",
  "PUT /queues/{id}": "queues.manage",
  "DELETE /queues/{id}": "queues.manage",
  "PUT /entry-rules": "queues.manage",
  "GET /queues/live": "reports.live",
  "GET /queues/history": "reports.live",

  "POST /conversations/{id}/tickets": "tickets.write",
  "POST /tickets": "tickets.write",
  "GET /tickets": "tickets.read",
  "GET /tickets/{id}": "tickets.read",
  "PATCH /tickets/{id}": "tickets.write",
  "GET /tickets/{id}/entries": "tickets.read",
  "POST /tickets/{id}/comments": "tickets.write",
  "POST /tickets/{id}/links": "tickets.write",
  "DELETE /tickets/{id}/links/{otherId}": "tickets.write",
  "POST /tickets/{id}/conversations": "tickets.write",
  "GET /contacts/{id}/tickets": "tickets.read",
  "GET /ticket-types": "tickets.read",
  "POST /ticket-types": "tickets.manage",
  "PATCH /ticket-types/{id}": "tickets.manage",
  "DELETE /ticket-types/{id}": "tickets.manage",
  "GET /ticket-fields": "tickets.read",
  "POST /ticket-fields": "tickets.manage",
  "PATCH /ticket-fields/{id}": "tickets.manage",
  "DELETE /ticket-fields/{id}": "tickets.manage",
  "GET /ticket-notices": "tickets.manage",
  "PUT /ticket-notices": "tickets.manage",
  "GET /notifications": "account.self",
  "POST /notifications/read": "account.self",

  "GET /reports/schedules": "reports.schedule",
  "POST /reports/schedules": "reports.schedule",
  "PATCH /reports/schedules/{id}": "reports.schedule",
  "DELETE /reports/schedules/{id}": "reports.schedule",
  "GET /sla-policies": "sla.manage",
  "POST /sla-policies": "sla.manage",
  "PUT /sla-policies/order": "sla.manage",
  "PATCH /sla-policies/{id}": "sla.manage",
  "DELETE /sla-policies/{id}": "sla.manage",
  "GET /workspace/calendar": "account.self",
  "PUT /workspace/calendar": "sla.manage",

  "GET /canned-responses": "canned.read",
  "POST /canned-responses": "canned.manage",
  "PUT /canned-responses/{id}": "canned.manage",
  "DELETE /canned-responses/{id}": "canned.manage",

  "GET /knowledge/articles": "knowledge.read",
  "GET /knowledge/articles/{id}": "knowledge.read",
  "GET /knowledge/articles/{id}/versions": "knowledge.read",
  "GET /knowledge/articles/{id}/versions/{version}": "knowledge.read",
  "GET /knowledge/articles/{id}/diff": "knowledge.read",
  "GET /knowledge/search": "knowledge.read",
  "GET /knowledge/categories": "knowledge.read",
  "POST /knowledge/articles/{id}/suggestions": "knowledge.read",
  "POST /knowledge/articles/{id}/insertions": "knowledge.read",
  "POST /knowledge/articles": "knowledge.edit",
  "PUT /knowledge/articles/{id}": "knowledge.edit",
  "POST /knowledge/articles/{id}/versions/{version}/restore": "knowledge.edit",
  "GET /knowledge/articles/{id}/suggestions": "knowledge.edit",
  "POST /knowledge/preview": "knowledge.edit",
  "POST /knowledge/categories": "knowledge.edit",
  "PATCH /knowledge/categories/{id}": "knowledge.edit",
  "DELETE /knowledge/categories/{id}": "knowledge.edit",
  "GET /knowledge/gaps": "knowledge.reports",
  "GET /knowledge/report": "knowledge.reports",

  "GET /webhooks": "webhooks.manage",
  "POST /webhooks": "webhooks.manage",
  "DELETE /webhooks/{id}": "webhooks.manage",
  "GET /webhooks/{id}/deliveries": "webhooks.manage",
  "POST /webhooks/{id}/deliveries/{deliveryId}/resend": "webhooks.manage",

  "GET /automations": "automation.manage",
  "POST /automations": "automation.manage",
  "POST /automations/dry-run": "automation.manage",
  "PUT /automations/order": "automation.manage",
  "GET /automations/{id}": "automation.manage",
  "PATCH /automations/{id}": "automation.manage",
  "DELETE /automations/{id}": "automation.manage",
  "GET /automations/{id}/runs": "automation.manage",

  // Shared or personal is decided by the domain (automation/macro.ts): macros.manage for shared ones.
  "GET /macros": "macros.apply",
  "POST /macros": "macros.apply",
  "PATCH /macros/{id}": "macros.apply",
  "DELETE /macros/{id}": "macros.apply",
  "POST /conversations/{id}/macros/{macroId}": "macros.apply",
};

/** `GET /conversations/{id}`: a route's key in the table, from Hono's method and `:param` path. */
export function routeKey(method: string, path: string) {
  return `${method} ${path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`;
}

/** The route that will answer this request (its path relative to where the API is mounted), if any. */
export function answeringRoute(c: Context) {
  const base = routePath(c).replace(/\/?\*$/, "");
  const handler = matchedRoutes(c).find((r) => r.method !== "ALL" && r.path.startsWith(`${base}/`));
  return handler && routeKey(handler.method, handler.path.slice(base.length));
}

/**
 * Sign-in and permission for every route by the table above: public routes pass, every other route
 * needs a signed-in user whose role holds the route's permission. A request no route answers goes on
 * to the 404 (after sign-in, so unknown paths tell a stranger nothing).
 */
export function routeAccess(db: Executor) {
  const signedIn = requireActor(db);
  return createMiddleware<AuthEnv>(async (c, next) => {
    const key = answeringRoute(c);
    const permission = key === undefined ? undefined : routePermissions[key];
    // An inbox-token route is answered by its own app before this gate; should one ever reach here it
    // is not a user's to call, and its handler checks the inbox token.
    if (permission === PUBLIC || permission === INBOX_TOKEN) return next();
    return signedIn(c, async () => {
      if (key !== undefined) {
        if (!permission) throw new Forbidden(`No permission is declared for ${key}`);
        requirePermission(c.get("actor"), permission);
        requireScope(c.get("actor"), c.req.method, permission);
      }
      await next();
    });
  });
}
