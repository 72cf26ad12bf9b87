import { createRoute, z } from "@hono/zod-openapi";
import { ticketLinkKinds, ticketPriorities, ticketStatuses, type TicketStatus } from "../../db/schema/index.ts";
import { updateTicket } from "../../tickets/change-ticket.ts";
import { createTicket } from "../../tickets/create-ticket.ts";
import { addComment, listEntries } from "../../tickets/entry.ts";
import { contactTickets, listTickets, ticketDetail, ticketViewNames } from "../../tickets/find-tickets.ts";
import { withTicketSla } from "../../sla/view.ts";
import { linkConversation, linkTickets, unlinkTickets } from "../../tickets/link.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const isStatus = (s: string): s is TicketStatus => (ticketStatuses as readonly string[]).includes(s);
const TicketQuery = z.object({
  // One status or several, comma-separated: status=open,pending_customer
  status: z
    .string()
    .max(200)
    .refine((s) => s.split(",").every(isStatus), {
      message: `each of ${ticketStatuses.join(", ")}, separated by commas`,
    })
    .transform((s) => s.split(",").filter(isStatus))
    .optional(),
  teamId: z.uuid().optional(),
  assignee: z.union([z.literal("me"), z.literal("none"), z.uuid()]).optional(),
  priority: z.enum(ticketPriorities).optional(),
  type: z.string().min(1).max(100).optional(),
  contactId: z.uuid().optional(),
  q: z.string().min(1).max(200).optional(),
  view: z.enum(ticketViewNames).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});
// A ticket is named by its id or by its number (`/tickets/1042`).
const TicketParam = z.object({ id: z.string().min(1).max(40) });
const Fields = z.record(z.string().max(40), z.union([z.string(), z.number(), z.null()]));
const TicketInput = {
  title: z.string().trim().min(1).max(300),
  description: z.string().max(20_000).optional(),
  type: z.string().min(1).max(100).nullish(),
  priority: z.enum(ticketPriorities).optional(),
  teamId: z.uuid().nullish(),
  assigneeId: z.uuid().nullish(),
  fields: Fields.optional(),
};
const ConversationTicketBody = z
  .object({ ...TicketInput, messageIds: z.array(z.uuid()).max(100).optional() })
  .openapi("ConversationTicket");
const TicketBody = z
  .object({ ...TicketInput, contactId: z.uuid().nullish(), conversationId: z.uuid().nullish() })
  .openapi("NewTicket");
const TicketPatch = z
  .object({
    status: z.enum(ticketStatuses).optional(),
    assigneeId: z.uuid().nullish(),
    teamId: z.uuid().nullish(),
    priority: z.enum(ticketPriorities).optional(),
    type: z.string().min(1).max(100).nullish(),
    title: z.string().trim().min(1).max(300).optional(),
    description: z.string().max(20_000).optional(),
    fields: Fields.optional(),
  })
  .openapi("TicketPatch");
const CommentBody = z.object({ body: z.string().min(1).max(10_000) });
const LinkBody = z.object({ ticketId: z.string().min(1).max(40), kind: z.enum(ticketLinkKinds) });
const ConversationLinkBody = z.object({ conversationId: z.uuid() });

/** Tickets (工单): made from conversations or on their own, listed, changed, commented and linked. */
export function ticketsApi(rt: Runtime) {
  const { core } = rt;
  const db = core.db;
  const app = router<AuthEnv>();
  const tags = ["tickets"];

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/tickets",
      request: { params: IdParam, ...body(ConversationTicketBody) },
      responses: created("The ticket; it carries the conversation's contact and customer messages"),
      tags,
    }),
    async (c) => {
      const input = c.req.valid("json");
      const ticket = await createTicket(core, c.get("actor"), {
        ...input,
        conversationId: c.req.valid("param").id,
        source: { kind: "conversation" },
      });
      return c.json(ticket, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tickets",
      request: body(TicketBody),
      responses: created("The ticket"),
      tags,
    }),
    async (c) => {
      const input = c.req.valid("json");
      return c.json(await createTicket(core, c.get("actor"), { ...input, source: { kind: "api" } }), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tickets",
      request: { query: TicketQuery },
      responses: ok("{items: Ticket[], nextCursor}: visible tickets, most recently changed first"),
      tags,
    }),
    async (c) => {
      const actor = c.get("actor");
      const page = await listTickets(db, actor, c.req.valid("query"));
      return c.json({ ...page, items: await withTicketSla(db, actor.workspaceId, page.items) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tickets/{id}",
      request: { params: TicketParam },
      responses: ok("The ticket (by id or number) with its links and conversations"),
      tags,
    }),
    async (c) => {
      const actor = c.get("actor");
      const [ticket] = await withTicketSla(db, actor.workspaceId, [
        await ticketDetail(db, actor, c.req.valid("param").id),
      ]);
      return c.json(ticket!, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/tickets/{id}",
      request: { params: TicketParam, ...body(TicketPatch) },
      responses: ok("The ticket; 409 when it is closed (only reopening to open is allowed)"),
      tags,
    }),
    async (c) => {
      const actor = c.get("actor");
      const changed = await updateTicket(core, actor, c.req.valid("param").id, c.req.valid("json"));
      const [ticket] = await withTicketSla(db, actor.workspaceId, [changed]);
      return c.json(ticket!, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/tickets/{id}/entries",
      request: { params: TicketParam },
      responses: ok("{items}: comments, changes, customer messages and notices, oldest first"),
      tags,
    }),
    async (c) => c.json(await listEntries(db, c.get("actor"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tickets/{id}/comments",
      request: { params: TicketParam, ...body(CommentBody) },
      responses: created("The comment entry; @mentioned users are notified"),
      tags,
    }),
    async (c) => c.json(await addComment(core, c.get("actor"), c.req.valid("param").id, c.req.valid("json").body), 201),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tickets/{id}/links",
      request: { params: TicketParam, ...body(LinkBody) },
      responses: created("The link; 400 for a self-link or a circle of parents, 409 when it exists"),
      tags,
    }),
    async (c) => c.json(await linkTickets(core, c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/tickets/{id}/links/{otherId}",
      request: { params: z.object({ id: z.string().min(1).max(40), otherId: z.string().min(1).max(40) }) },
      responses: { 204: { description: "Unlinked" } },
      tags,
    }),
    async (c) => {
      const { id, otherId } = c.req.valid("param");
      await unlinkTickets(core, c.get("actor"), id, otherId);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/tickets/{id}/conversations",
      request: { params: TicketParam, ...body(ConversationLinkBody) },
      responses: created("The ticket, with the conversation linked"),
      tags,
    }),
    async (c) => {
      const { conversationId } = c.req.valid("json");
      return c.json(await linkConversation(core, c.get("actor"), c.req.valid("param").id, conversationId), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/contacts/{id}/tickets",
      request: { params: IdParam },
      responses: ok("{items}: the contact's visible tickets, newest first"),
      tags,
    }),
    async (c) => {
      const actor = c.get("actor");
      const page = await contactTickets(db, actor, c.req.valid("param").id);
      return c.json({ ...page, items: await withTicketSla(db, actor.workspaceId, page.items) }, 200);
    },
  );

  return app;
}
