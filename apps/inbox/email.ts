import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { EmailCredentials, EmailSettings } from "../../channels/email/index.ts";
import { MAX_TEXT } from "../../conversations/channel.ts";
import { requireConversation } from "../../conversations/conversation.ts";
import { startConversation } from "../../conversations/reply.ts";
import { inboxSettings, requireInbox, updateInboxSettings } from "../../conversations/inbox.ts";
import { confirmEmailRoute, routesOf } from "../../conversations/inbox-route.ts";
import type { Executor } from "../../db/connect.ts";
import { contacts, emailMailboxState, emailParticipants, inboxes, type Conversation } from "../../db/schema/index.ts";
import { Conflict, Invalid } from "../../platform/errors.ts";
import { parseInput } from "../../platform/validation.ts";
import { deleteHeldBack, listHeldBack, releaseHeldBack } from "../../mailboxes/held-back.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { mailVerificationCodes } from "./email-verification.ts";
import type { AuthEnv } from "./auth.ts";

/**
 * The people on a conversation besides its contact — everyone a customer's mail was also addressed
 * to — as the contacts they are (a merged contact shown as the one it was merged into).
 */
export async function participantsOf(
  db: Executor,
  conversation: Pick<Conversation, "id" | "workspaceId" | "contactId">,
) {
  const contactId = sql<string>`COALESCE(${contacts.mergedIntoId}, ${contacts.id})`;
  const rows = await db
    .select({ address: emailParticipants.address, name: emailParticipants.name, contactId, contactName: contacts.name })
    .from(emailParticipants)
    .innerJoin(contacts, eq(contacts.id, emailParticipants.contactId))
    .where(
      and(
        eq(emailParticipants.workspaceId, conversation.workspaceId),
        eq(emailParticipants.conversationId, conversation.id),
      ),
    )
    .orderBy(asc(emailParticipants.createdAt), asc(emailParticipants.address));
  return rows
    .filter((r) => r.contactId !== conversation.contactId)
    .map((r) => ({ contactId: r.contactId, name: r.contactName ?? r.name, address: r.address }));
}

/** Credentials may be set, or removed with null; omitted ones are kept. */
const CredentialsPatch = z.object({
  imapPassword: z.string().max(1000).nullable().optional(),
  smtpPassword: z.string().max(1000).nullable().optional(),
  dkim: EmailCredentials.shape.dkim.nullable(),
});

/** Validates an email inbox's settings and credentials; errors name the field (`email.imap.port`). */
export function parseEmailSetup(raw: { email?: unknown; credentials?: unknown }) {
  return parseInput(
    z.object({ email: EmailSettings, credentials: CredentialsPatch.default({ dkim: undefined }) }),
    raw,
  );
}

const NewEmailBody = z
  .object({
    contactId: z.uuid(),
    inboxId: z.uuid(),
    subject: z.string().trim().min(1).max(998),
    text: z.string().min(1).max(MAX_TEXT),
    to: z.array(z.email()).max(50).optional(),
    cc: z.array(z.email()).max(50).optional(),
    attachments: z.array(z.uuid()).max(10).optional(),
  })
  .openapi("NewEmail");

const SpamItemParams = z.object({ id: z.uuid(), itemId: z.uuid() });

const SetupBody = z.object({ email: Json, credentials: Json.optional() }).openapi("EmailSetup");
const VerificationCode = z
  .object({ address: z.email().max(320), code: z.string().trim().min(1).max(100) })
  .openapi("EmailVerificationCode");

/**
 * Email inbox configuration for admins: settings (address, IMAP, SMTP, signature, threading windows),
 * sealed credentials (never returned), import progress, and the spam view of held-back mail.
 */
export function emailAdminApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  const view = async (workspaceId: string, id: string) => {
    const { inbox, credentialKeys } = await inboxSettings(db, rt.keyring, workspaceId, id);
    if (inbox.channel !== "email") throw new Invalid("This inbox is not an email inbox", "id");
    const mailboxes = await db
      .select({
        mailbox: emailMailboxState.mailbox,
        uidValidity: emailMailboxState.uidValidity,
        lastUid: emailMailboxState.lastUid,
        updatedAt: emailMailboxState.updatedAt,
      })
      .from(emailMailboxState)
      .where(and(eq(emailMailboxState.workspaceId, workspaceId), eq(emailMailboxState.inboxId, id)));
    return {
      id: inbox.id,
      name: inbox.name,
      email: inbox.settings,
      credentials: {
        imapPassword: credentialKeys.includes("imapPassword"),
        smtpPassword: credentialKeys.includes("smtpPassword"),
        dkim: credentialKeys.includes("dkim"),
      },
      // SMTP-in delivers mail only for proven addresses (docs/security.md, "Tenancy and routing keys").
      addresses: (await routesOf(db, workspaceId, id)).map((r) => ({ address: r.key, verified: r.verified })),
      import: mailboxes.map((m) => ({ ...m, updatedAt: m.updatedAt.toISOString() })),
    };
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/email",
      request: { params: IdParam },
      responses: ok("Email settings, which credentials are set, import progress"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json(await view(a.workspaceId, c.req.valid("param").id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/inboxes/{id}/email",
      request: { params: IdParam, ...body(SetupBody) },
      responses: ok("The saved settings"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const id = c.req.valid("param").id;
      // Not opened here: credentials sealed with a lost key are replaced by what the admin enters.
      const inbox = await requireInbox(db, a.workspaceId, id);
      if (inbox.channel !== "email") throw new Invalid("This inbox is not an email inbox", "id");
      const setup = parseEmailSetup(c.req.valid("json"));
      await updateInboxSettings(db, rt.keyring, a.workspaceId, id, setup.email, setup.credentials);
      return c.json(await view(a.workspaceId, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/inboxes/{id}/email/verification",
      request: { params: IdParam },
      responses: ok(
        "{sent:[address]}: a one-time code mailed to each unverified address, through the inbox's outgoing server",
      ),
      tags: ["admin"],
    }),
    async (c) => {
      const inbox = await requireInbox(db, c.get("actor").workspaceId, c.req.valid("param").id);
      if (inbox.channel !== "email") throw new Invalid("This inbox is not an email inbox", "id");
      return c.json({ sent: await mailVerificationCodes(rt, inbox) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/inboxes/{id}/email/verification/confirm",
      request: { params: IdParam, ...body(VerificationCode) },
      responses: ok("The settings, the address now verified; 409 for a wrong or expired code"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const id = c.req.valid("param").id;
      const { address, code } = c.req.valid("json");
      await requireInbox(db, a.workspaceId, id);
      const owned = (await routesOf(db, a.workspaceId, id)).some(
        (r) => r.kind === "email" && r.key === address.toLowerCase(),
      );
      if (!owned || !(await confirmEmailRoute(db, address, code, a.workspaceId)))
        throw new Conflict("Wrong or expired code for this address", "code");
      return c.json(await view(a.workspaceId, id), 200);
    },
  );

  // The spam view is for admins and supervisors: held-back mail is unvetted (phishing, floods), and
  // releasing it puts it in front of every agent, so it is a moderation decision, not an agent's.
  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/email/spam",
      request: { params: IdParam },
      responses: ok("Mail held back: spam, floods, unusable mail"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      return c.json({ items: await listHeldBack(rt, a.workspaceId, c.req.valid("param").id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/inboxes/{id}/email/spam/{itemId}/release",
      request: { params: SpamItemParams },
      responses: ok(
        "Not spam: the mail is received into its conversation as if it had just arrived: {conversationId, itemId}",
      ),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const { id, itemId } = c.req.valid("param");
      return c.json(await releaseHeldBack(rt, a.workspaceId, id, itemId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/inboxes/{id}/email/spam/{itemId}",
      request: { params: SpamItemParams },
      responses: ok("Deleted for good, with its stored copy"),
      tags: ["admin"],
    }),
    async (c) => {
      const a = c.get("actor");
      const { id, itemId } = c.req.valid("param");
      await deleteHeldBack(rt, a.workspaceId, id, itemId);
      return c.json({ deleted: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations/{id}/participants",
      request: { params: IdParam },
      responses: ok("People on the conversation besides its contact (Cc'd on its mail), each a contact"),
      tags: ["conversations"],
    }),
    async (c) => {
      const conversation = await requireConversation(db, c.get("actor"), c.req.valid("param").id);
      const items = await participantsOf(db, conversation);
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/email",
      request: body(NewEmailBody),
      responses: created("The new conversation and its first message, on its way through the outbox"),
      tags: ["conversations"],
    }),
    async (c) => {
      const input = c.req.valid("json");
      const [inbox] = await db
        .select({ channel: inboxes.channel })
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, c.get("actor").workspaceId), eq(inboxes.id, input.inboxId)));
      if (inbox && inbox.channel !== "email") throw new Invalid("New emails go out through an email inbox", "inboxId");
      const started = await startConversation(rt.core, c.get("actor"), {
        contactId: input.contactId,
        inboxId: input.inboxId,
        text: input.text,
        attachments: input.attachments,
        email: {
          subject: input.subject,
          ...(input.to?.length ? { to: input.to } : {}),
          ...(input.cc?.length ? { cc: input.cc } : {}),
        },
      });
      return c.json(started, 201);
    },
  );

  return app;
}
