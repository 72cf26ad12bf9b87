import { createRoute, z } from "@hono/zod-openapi";
import { addIdentity, mergeContacts, removeIdentity } from "../../conversations/contact-identity.ts";
import {
  addContactNote,
  contactProfile,
  deleteContactNote,
  searchContacts,
  updateContact,
} from "../../conversations/contact.ts";
import { identityKinds } from "../../db/schema/index.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";
import { revokeVisitorTokens } from "../../conversations/visitor-tokens.ts";

const ContactQuery = z.object({
  q: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
const ContactPatch = z.object({ name: z.string().min(1).max(200).optional(), attributes: Json.optional() });
const MergeBody = z.object({ mergeId: z.uuid() });
const NoteBody = z.object({
  text: z
    .string()
    .min(1)
    .max(5000)
    .refine((t) => t.trim().length > 0, { message: "must not be blank" }),
});
const IdentityBody = z.object({ kind: z.enum(identityKinds), value: z.string().min(1).max(320) });

/**
 * Contacts for the people who answer them: search, the profile beside a conversation, notes, and
 * identities. Mounted under /api/v1 behind the sign-in middleware.
 */
export function contactsApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/contacts",
      request: { query: ContactQuery },
      responses: ok(
        "Contacts whose name or an identity contains q: {items:[{id, name, identities:[{id, kind, value}]}]}",
      ),
      tags: ["contacts"],
    }),
    async (c) => {
      const { q, limit } = c.req.valid("query");
      return c.json({ items: await searchContacts(db, c.get("actor").workspaceId, q || undefined, limit) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/contacts/{id}",
      request: { params: IdParam },
      responses: ok("Contact with identities, past conversations and notes"),
      tags: ["contacts"],
    }),
    async (c) => c.json(await contactProfile(db, c.get("actor"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/contacts/{id}",
      request: { params: IdParam, ...body(ContactPatch) },
      responses: ok("Updated"),
      tags: ["contacts"],
    }),
    async (c) => {
      const actor = c.get("actor");
      await updateContact(rt.core, actor.workspaceId, c.req.valid("param").id, c.req.valid("json"));
      return c.json(await contactProfile(db, actor, c.req.valid("param").id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/contacts/{id}/merge",
      request: { params: IdParam, ...body(MergeBody) },
      responses: ok("The merged contact"),
      tags: ["contacts"],
    }),
    async (c) => {
      // contacts.merge (supervisors, admins): merging moves conversations, so it decides who reads them.
      const actor = c.get("actor");
      await mergeContacts(rt.core, actor.workspaceId, c.req.valid("param").id, c.req.valid("json").mergeId);
      return c.json(await contactProfile(db, actor, c.req.valid("param").id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/contacts/{id}/visitor-sessions/revoke",
      request: { params: IdParam },
      responses: ok("Every web chat token issued to the contact so far is refused"),
      tags: ["contacts"],
    }),
    async (c) => {
      const actor = c.get("actor");
      // Visible contacts only: the same rule as reading the profile.
      await contactProfile(db, actor, c.req.valid("param").id);
      await revokeVisitorTokens(db, actor.workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/contacts/{id}/notes",
      request: { params: IdParam, ...body(NoteBody) },
      responses: created("The note"),
      tags: ["contacts"],
    }),
    async (c) =>
      c.json(await addContactNote(rt.core, c.get("actor"), c.req.valid("param").id, c.req.valid("json").text), 201),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/contacts/{id}/notes/{noteId}",
      request: { params: z.object({ id: z.uuid(), noteId: z.uuid() }) },
      responses: ok("Deleted (the author, a supervisor or an admin)"),
      tags: ["contacts"],
    }),
    async (c) => {
      const { id, noteId } = c.req.valid("param");
      await deleteContactNote(rt.core, c.get("actor"), id, noteId);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/contacts/{id}/identities",
      request: { params: IdParam, ...body(IdentityBody) },
      responses: {
        ...ok("Already this contact's: the identity"),
        ...created("The identity: {id, kind, value}; 409 when another contact has it"),
      },
      tags: ["contacts"],
    }),
    async (c) => {
      const { identity, created } = await addIdentity(
        rt.core,
        c.get("actor").workspaceId,
        c.req.valid("param").id,
        c.req.valid("json"),
      );
      return c.json(identity, created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/contacts/{id}/identities/{identityId}",
      request: { params: z.object({ id: z.uuid(), identityId: z.uuid() }) },
      responses: ok("Removed; a contact keeps at least one identity"),
      tags: ["contacts"],
    }),
    async (c) => {
      const { id, identityId } = c.req.valid("param");
      await removeIdentity(rt.core, c.get("actor").workspaceId, id, identityId);
      return c.json({ ok: true }, 200);
    },
  );

  return app;
}
