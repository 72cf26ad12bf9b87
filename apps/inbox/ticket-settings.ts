import { createRoute, z } from "@hono/zod-openapi";
import { ticketFieldKinds } from "../../db/schema/index.ts";
import { FIELD_KEY } from "../../tickets/field-value.ts";
import { listNotifications, markNotificationsRead } from "../../tickets/notification.ts";
import { saveTicketNotices, ticketNoticeSettings } from "../../tickets/notice.ts";
import {
  createTicketField,
  deleteTicketField,
  listTicketFields,
  updateTicketField,
} from "../../tickets/ticket-fields.ts";
import { createTicketType, deleteTicketType, listTicketTypes, updateTicketType } from "../../tickets/ticket-types.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const Labels = z.record(z.string().min(2).max(20), z.string().trim().min(1).max(100));
const TypeBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    labels: Labels.optional(),
    position: z.number().int().min(0).max(10_000).optional(),
  })
  .openapi("TicketType");
const FieldBody = z
  .object({
    key: z.string().regex(FIELD_KEY, "a lower-case letter, then up to 39 letters, digits or _"),
    label: z.string().trim().min(1).max(100),
    kind: z.enum(ticketFieldKinds),
    options: z.array(z.string().max(100)).max(100).optional(),
    required: z.boolean().optional(),
    position: z.number().int().min(0).max(10_000).optional(),
  })
  .openapi("TicketField");
const NoticeTexts = z.record(z.string().min(2).max(20), z.string().max(1000)).optional();
const NoticeBody = z
  .strictObject({
    open: NoticeTexts,
    pending_customer: NoticeTexts,
    pending_third_party: NoticeTexts,
    solved: NoticeTexts,
    closed: NoticeTexts,
  })
  .openapi("TicketNotices");
const ReadBody = z.object({ ids: z.array(z.uuid()).max(500).optional() });

/** The workspace's ticket types, custom fields and customer notices; each user's notifications. */
export function ticketSettingsApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  const ws = (c: { get(k: "actor"): { workspaceId: string } }) => c.get("actor").workspaceId;

  app.openapi(
    createRoute({ method: "get", path: "/ticket-types", responses: ok("{items}"), tags: ["tickets"] }),
    async (c) => c.json({ items: await listTicketTypes(db, ws(c)) }, 200),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/ticket-types",
      request: body(TypeBody),
      responses: created("The type; 409 when the name is taken"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await createTicketType(db, ws(c), c.req.valid("json")), 201),
  );
  app.openapi(
    createRoute({
      method: "patch",
      path: "/ticket-types/{id}",
      request: { params: IdParam, ...body(TypeBody.partial()) },
      responses: ok("The type; a new name is carried to the tickets of the old one"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await updateTicketType(db, ws(c), c.req.valid("param").id, c.req.valid("json")), 200),
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/ticket-types/{id}",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted; 409 while tickets have the type" } },
      tags: ["tickets"],
    }),
    async (c) => {
      await deleteTicketType(db, ws(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({ method: "get", path: "/ticket-fields", responses: ok("{items}"), tags: ["tickets"] }),
    async (c) => c.json({ items: await listTicketFields(db, ws(c)) }, 200),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/ticket-fields",
      request: body(FieldBody),
      responses: created("The field; 409 when the key is taken"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await createTicketField(db, ws(c), c.req.valid("json")), 201),
  );
  app.openapi(
    createRoute({
      method: "patch",
      path: "/ticket-fields/{id}",
      request: { params: IdParam, ...body(FieldBody.partial()) },
      responses: ok("The field (its key and kind stay)"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await updateTicketField(db, ws(c), c.req.valid("param").id, c.req.valid("json")), 200),
  );
  app.openapi(
    createRoute({
      method: "delete",
      path: "/ticket-fields/{id}",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" } },
      tags: ["tickets"],
    }),
    async (c) => {
      await deleteTicketField(db, ws(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/ticket-notices",
      responses: ok("{notices, defaults}: the workspace's texts per status and language, and the built-in ones"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await ticketNoticeSettings(db, ws(c)), 200),
  );
  app.openapi(
    createRoute({
      method: "put",
      path: "/ticket-notices",
      request: body(NoticeBody),
      responses: ok("{notices, defaults}"),
      tags: ["tickets"],
    }),
    async (c) => c.json(await saveTicketNotices(db, ws(c), c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/notifications",
      responses: ok("{items, unread}: the user's notifications, newest first"),
      tags: ["notifications"],
    }),
    async (c) => c.json(await listNotifications(db, c.get("actor")), 200),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/notifications/read",
      request: body(ReadBody),
      responses: ok("{ok: true}; every notification when ids is left out"),
      tags: ["notifications"],
    }),
    async (c) => {
      await markNotificationsRead(db, c.get("actor"), c.req.valid("json").ids);
      return c.json({ ok: true }, 200);
    },
  );

  return app;
}
