import { createRoute, z } from "@hono/zod-openapi";
import { assign } from "../../conversations/assignment.ts";
import { getConversation, requireConversation } from "../../conversations/conversation.ts";
import { reply } from "../../conversations/reply.ts";
import { replyChoicesOf } from "../../conversations/reply-window-of.ts";
import { MAX_TEMPLATE_VARIABLE } from "../../conversations/reply-template.ts";
import { setLabels, setStatus } from "../../conversations/status.ts";
import { conversationItem, listConversations, markRead } from "../../conversations/conversation-list.ts";
import { MAX_TEXT } from "../../conversations/channel.ts";
import { OutboxWorker } from "../../conversations/outbox.ts";
import { timelinePage } from "../../conversations/timeline.ts";
import { channels, conversationStatuses, type ConversationStatus } from "../../db/schema/index.ts";
import { NotFound } from "../../platform/errors.ts";
import { clientIp } from "../server/client-ip.ts";
import { agentSkillsOf } from "../../routing/agent.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import { streamedUpload } from "../server/upload.ts";
import { MAX_ATTACHMENT_BYTES } from "../../conversations/attachment.ts";
import type { Runtime } from "../server/runtime.ts";
import { accountOf, login, logout, type AuthEnv } from "./auth.ts";
import { routeAccess } from "./route-permission.ts";
import { adminApi } from "./admin.ts";
import { SignInGuard } from "./sign-in-guard.ts";
import { browserCallApi } from "./browser-call.ts";
import { voiceApi } from "./voice.ts";
import { voiceInboxApi } from "./voice-inbox.ts";
import { wechatyAdminApi } from "./wechaty.ts";
import { emailAdminApi } from "./email.ts";
import { automationsApi } from "./automations.ts";
import { cannedApi } from "./canned.ts";
import { ticketsApi } from "./tickets.ts";
import { ticketSettingsApi } from "./ticket-settings.ts";
import { csatApi } from "./csat.ts";
import { forecastApi } from "./forecast.ts";
import { qualityApi } from "./quality.ts";
import { csatOf } from "../../csat/results.ts";
import { slaApi } from "./sla.ts";
import { reportsApi } from "./reports.ts";
import { slaOf } from "../../sla/view.ts";
import { apiKeysApi } from "./api-keys.ts";
import { auditAdminActions, auditApi } from "./audit.ts";
import { maskPersonalData } from "./masking.ts";
import { privacyApi } from "./privacy.ts";
import { contactsApi } from "./contacts.ts";
import { knowledgeApi } from "./knowledge.ts";
import { macrosApi } from "./macros.ts";
import { webhooksApi } from "./webhooks.ts";
import { reportSchedulesApi } from "./report-schedules.ts";
import { routingApi } from "./routing.ts";
import { transferToAgent, transferToQueue, transferToTeam } from "../../routing/transfer.ts";
import { followAssignment, freeIfIdle } from "../../routing/work.ts";
import { signedOut } from "../../routing/presence.ts";
import { publishTyping } from "../../conversations/typing.ts";

const LoginBody = z
  .object({ email: z.string().min(1).max(320), password: z.string().min(1).max(200) })
  .openapi("Login");
const isStatus = (s: string): s is ConversationStatus => (conversationStatuses as readonly string[]).includes(s);
const ConversationQuery = z.object({
  // One status or several, comma-separated: status=open,pending
  status: z
    .string()
    .max(100)
    .refine((s) => s.split(",").every(isStatus), {
      message: `each of ${conversationStatuses.join(", ")}, separated by commas`,
    })
    .transform((s) => s.split(",").filter(isStatus))
    .optional(),
  assignee: z.union([z.literal("me"), z.literal("none"), z.uuid()]).optional(),
  inboxId: z.uuid().optional(),
  channel: z.enum(channels).optional(),
  teamId: z.uuid().optional(),
  label: z.string().max(100).optional(),
  queueId: z.uuid().optional(),
  contactId: z.uuid().optional(),
  q: z.string().min(1).max(200).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
const TimelineQuery = z.object({
  before: z.coerce.number().int().min(0).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const ReplyBody = z
  .object({
    text: z.string().max(MAX_TEXT, `must be at most ${MAX_TEXT} characters`).optional(),
    private: z.boolean().optional(),
    attachments: z.array(z.uuid()).max(10).optional(),
    inboxId: z.uuid().optional(),
    /** Email only: reply-all (Cc the conversation's participants), forward, or other recipients/subject. */
    email: z
      .object({
        to: z.array(z.email()).max(50).optional(),
        cc: z.array(z.email()).max(50).optional(),
        subject: z.string().trim().max(998).optional(),
        replyAll: z.boolean().optional(),
        forward: z.boolean().optional(),
      })
      .refine((e) => !e.forward || !!e.to?.length, { message: "a forward needs a recipient", path: ["to"] })
      .optional(),
    /** WhatsApp: an approved template by its Content SID, with a value for each {{n}} of its body. */
    template: z
      .object({
        contentSid: z.string().trim().min(1).max(64),
        variables: z
          .record(
            z.string().regex(/^\d{1,3}$/, "variables are named by their placeholder's number"),
            z.string().max(MAX_TEMPLATE_VARIABLE),
          )
          .optional(),
      })
      .optional(),
  })
  .openapi("Reply");
const StatusBody = z.object({ status: z.enum(conversationStatuses), snoozedUntil: z.coerce.date().optional() });
const AssignBody = z.object({ assigneeId: z.uuid().nullable() });
const TransferBody = z
  .object({
    teamId: z.uuid().optional(),
    queueId: z.uuid().optional(),
    agentId: z.uuid().optional(),
    note: z.string().max(2000).optional(),
  })
  .refine((b) => [b.teamId, b.queueId, b.agentId].filter(Boolean).length === 1, {
    message: "Give exactly one of teamId, queueId, agentId",
    path: ["teamId"],
  });
const LabelsBody = z.object({ labels: z.array(z.string().min(1).max(100)).max(50) });
const TypingBody = z.object({ typing: z.boolean() });
const ReadBody = z.object({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

/** The agent/supervisor API under /api/v1; every route's input is a zod schema that is also its doc. */
export function inboxApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  const signIn = new SignInGuard(rt.config.login);

  app.openapi(
    createRoute({
      method: "post",
      path: "/auth/login",
      request: body(LoginBody),
      responses: ok("A session token"),
      tags: ["auth"],
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      const { token, user } = await signIn.attempt(clientIp(rt.config.trustProxy, c), email, () =>
        login(db, email, password),
      );
      return c.json({ token, user: { id: user.id, name: user.name, email: user.email, role: user.role } }, 200);
    },
  );

  // Everything below needs a signed-in user holding the route's permission (route-permission.ts).
  app.use("/*", routeAccess(db));
  // What a user without pii is answered is masked; admin changes are audited (docs/privacy.md).
  app.use("/*", maskPersonalData());
  app.use("/*", auditAdminActions(db, rt.config.trustProxy));

  app.openapi(
    createRoute({ method: "post", path: "/auth/logout", responses: ok("Signed out"), tags: ["auth"] }),
    async (c) => {
      await logout(rt.core, c.get("token"));
      const actor = c.get("actor");
      await signedOut(rt.core, actor.workspaceId, actor.userId);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/me", responses: ok("The signed-in user"), tags: ["auth"] }),
    async (c) => {
      const a = c.get("actor");
      const { email, workspace } = await accountOf(db, a);
      return c.json(
        {
          id: a.userId,
          name: a.name,
          email,
          role: a.role,
          workspaceId: a.workspaceId,
          workspace,
          teamIds: a.teamIds,
          skills: await agentSkillsOf(db, a.userId),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations",
      request: { query: ConversationQuery },
      responses: ok("A page of conversations"),
      tags: ["conversations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const page = await listConversations(db, actor, c.req.valid("query"));
      const sla = await slaOf(db, actor.workspaceId, { conversationIds: page.items.map((i) => i.id) });
      return c.json({ ...page, items: page.items.map((i) => ({ ...i, sla: sla.get(i.id) ?? null })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations/{id}",
      request: { params: IdParam },
      responses: ok(
        "A conversation, as in the list, with its replyWindow (null where the channel has none) and replyOptions " +
          "(every inbox that reaches the contact, with its window or opt-out state)",
      ),
      tags: ["conversations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const item = await conversationItem(db, actor, c.req.valid("param").id);
      const owner = { ...item, workspaceId: actor.workspaceId, contactId: item.contact.id };
      const sla = (await slaOf(db, actor.workspaceId, { conversationIds: [item.id] })).get(item.id) ?? null;
      return c.json({ ...item, ...(await replyChoicesOf(db, owner)), csat: await csatOf(db, item.id), sla }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/read",
      request: { params: IdParam, ...body(ReadBody) },
      responses: ok("Read up to seq (never moves back): {lastReadSeq}"),
      tags: ["conversations"],
    }),
    async (c) => c.json(await markRead(db, c.get("actor"), c.req.valid("param").id, c.req.valid("json").seq), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations/{id}/timeline",
      request: { params: IdParam, query: TimelineQuery },
      responses: ok("Timeline items, oldest first; nextCursor pages back (before=)"),
      tags: ["conversations"],
    }),
    async (c) => {
      const conversation = await requireConversation(db, c.get("actor"), c.req.valid("param").id);
      return c.json(await timelinePage(db, conversation.id, c.req.valid("query")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/messages",
      request: { params: IdParam, ...body(ReplyBody) },
      responses: created("The stored message or note"),
      tags: ["conversations"],
    }),
    async (c) => c.json(await reply(rt.core, c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/messages/{itemId}/retry",
      request: { params: z.object({ id: z.uuid(), itemId: z.uuid() }) },
      responses: ok("Queued again"),
      tags: ["conversations"],
    }),
    async (c) => {
      const { id, itemId } = c.req.valid("param");
      const conversation = await requireConversation(db, c.get("actor"), id);
      if (!(await OutboxWorker.retry(rt.core, conversation.workspaceId, conversation.id, itemId)))
        throw new NotFound("Failed message", "itemId");
      rt.outbox.wake();
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/status",
      request: { params: IdParam, ...body(StatusBody) },
      responses: ok("Updated"),
      tags: ["conversations"],
    }),
    async (c) => {
      const { status, snoozedUntil } = c.req.valid("json");
      return c.json(await setStatus(rt.core, c.get("actor"), c.req.valid("param").id, status, snoozedUntil), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/assign",
      request: { params: IdParam, ...body(AssignBody) },
      responses: ok("Updated"),
      tags: ["conversations"],
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { assigneeId } = c.req.valid("json");
      const conversation = await assign(rt.core, c.get("actor"), id, assigneeId);
      const moved = await followAssignment(rt.core, id, assigneeId);
      if (moved?.previousAgentId) await freeIfIdle(rt.core, moved.workspaceId, moved.previousAgentId);
      if (moved) rt.router.schedule(moved.workspaceId);
      return c.json(conversation, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/transfer",
      request: { params: IdParam, ...body(TransferBody) },
      responses: ok("Updated"),
      tags: ["conversations"],
    }),
    async (c) => {
      const { teamId, queueId, agentId, note } = c.req.valid("json");
      const actor = c.get("actor");
      const id = c.req.valid("param").id;
      if (teamId) {
        const moved = await transferToTeam(rt.core, actor, id, teamId, note);
        rt.router.schedule(actor.workspaceId);
        return c.json(moved, 200);
      }
      const offer = queueId
        ? await transferToQueue(rt.core, actor, id, queueId, note)
        : await transferToAgent(rt.core, actor, id, agentId!, note);
      rt.router.schedule(actor.workspaceId);
      return c.json(
        { conversation: await getConversation(db, actor, id).catch(() => null), offer: offer ?? null },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/conversations/{id}/labels",
      request: { params: IdParam, ...body(LabelsBody) },
      responses: ok("Updated"),
      tags: ["conversations"],
    }),
    async (c) =>
      c.json(await setLabels(rt.core, c.get("actor"), c.req.valid("param").id, c.req.valid("json").labels), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/typing",
      request: { params: IdParam, ...body(TypingBody) },
      responses: ok("Sent"),
      tags: ["conversations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const conversation = await requireConversation(db, actor, c.req.valid("param").id);
      publishTyping(rt.core.bus, conversation, { type: "agent", name: actor.name }, c.req.valid("json").typing);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({ method: "post", path: "/attachments", responses: created("Stored file"), tags: ["conversations"] }),
    async (c) => {
      const actor = c.get("actor");
      const upload = await streamedUpload(c.req.raw);
      const limit = { maxBytes: MAX_ATTACHMENT_BYTES, uploaderIp: clientIp(rt.config.trustProxy, c) };
      return c.json(await rt.files.saveUpload(db, actor.workspaceId, { userId: actor.userId }, upload, limit), 201);
    },
  );

  app.route("/", contactsApi(rt));
  app.route("/", cannedApi(rt));
  app.route("/", ticketsApi(rt));
  app.route("/", ticketSettingsApi(rt));
  app.route("/", csatApi(rt));
  app.route("/", forecastApi(rt));
  app.route("/", qualityApi(rt));
  app.route("/", slaApi(rt));
  app.route("/", reportsApi(rt));
  app.route("/", routingApi(rt));
  app.route("/", adminApi(rt));
  app.route("/", browserCallApi(rt));
  app.route("/", voiceApi(rt));
  app.route("/", voiceInboxApi(rt));
  app.route("/", wechatyAdminApi(rt));
  app.route("/", emailAdminApi(rt));
  app.route("/", knowledgeApi(rt));
  app.route("/", webhooksApi(rt));
  app.route("/", automationsApi(rt));
  app.route("/", macrosApi(rt));
  app.route("/", reportSchedulesApi(rt));
  app.route("/", apiKeysApi(rt));
  app.route("/", privacyApi(rt));
  app.route("/", auditApi(rt));

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Switchboard agent API", version: "1" },
    servers: [{ url: "/api/v1" }],
  });

  return app;
}
