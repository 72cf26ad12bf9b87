import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, lt } from "drizzle-orm";
import { routePath } from "hono/route";
import {
  isVisitorClaims,
  parseWidgetMessage,
  verifyVisitorIdentity,
  visitorClaims,
  WidgetMessage,
  type VisitorClaims,
} from "../../../channels/webchat/index.ts";
import { mergeContacts } from "../../../conversations/contact-identity.ts";
import { resolveContact } from "../../../conversations/contact.ts";
import { openConversationOf } from "../../../conversations/conversation.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { loadTimelineItem, type TimelineView } from "../../../conversations/timeline.ts";
import { contacts, conversations, inboxes, timelineItems, type Inbox } from "../../../db/schema/index.ts";
import { Invalid, NotFound, TooManyRequests, Unauthorized } from "../../../platform/errors.ts";
import { RateLimiter } from "../../../platform/rate-limit.ts";
import { clientIp } from "../../server/client-ip.ts";
import { queuePosition } from "../../../routing/estimate.ts";
import { created, ok, router } from "../../server/http.ts";
import { streamedUpload } from "../../server/upload.ts";
import { MAX_ATTACHMENT_BYTES } from "../../../conversations/attachment.ts";
import { UploadQuota } from "../../../conversations/upload-quota.ts";
import { publishTyping } from "../../../conversations/typing.ts";
import type { Runtime } from "../../server/runtime.ts";
import { articleUrl } from "../../../knowledge/article-url.ts";
import { widgetCallApi } from "./call.ts";
import { widgetCsatApi } from "./csat.ts";
import { inboxInfo, rememberVisitorDetails, visitorContact, visitorView } from "./visitor.ts";

const SessionBody = z
  .object({
    inboxKey: z.string().min(1).max(100),
    name: z.string().trim().min(1).max(200).optional(),
    email: z.email().max(320).optional(),
    visitorToken: z.string().max(2000).optional(),
    userId: z.string().min(1).max(200).optional(),
    userHash: z.string().max(128).optional(),
    locale: z.string().max(20).optional(),
  })
  .openapi("WidgetSession");
const ArticlesQuery = z.object({ q: z.string().max(500) });
const ContactBody = z.object({ email: z.email().max(320), name: z.string().trim().min(1).max(200).optional() });
const HistoryQuery = z.object({
  before: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

type WidgetEnv = { Variables: { visitor: VisitorClaims } };

const INBOX_CACHE_MS = 30_000;

/**
 * The public web chat API (/widget/v1): visitor sessions, messages, uploads, typing, queue position
 * and articles (the visitor's socket is widget-socket.ts). Everything is throttled per IP and per
 * visitor; 429 carries Retry-After.
 */
export function widgetApi(rt: Runtime, visitorLimit: { burst?: number; perSecond?: number } = {}) {
  const db = rt.core.db;
  const app = router<WidgetEnv>();
  const perIp = new RateLimiter(rt.config.widgetIpRate * 5, rt.config.widgetIpRate);
  // One visitor types at human speed; 30 at once covers a burst of retries after a reconnect.
  const perVisitor = new RateLimiter(visitorLimit.burst ?? 30, visitorLimit.perSecond ?? 2);
  const uploadQuota = new UploadQuota(rt.config.uploads);

  const throttle = (limiter: RateLimiter, key: string) => {
    const wait = limiter.take(key);
    if (wait) throw new TooManyRequests(wait);
  };

  // Every widget request names its inbox; a short-lived cache keeps that off the database's hot path.
  const inboxCache = new Map<string, { inbox: Inbox; until: number }>();
  async function visitorFrom(token: string | undefined) {
    const claims = token ? rt.keyring.verifyToken<unknown>(token) : undefined;
    if (!isVisitorClaims(claims)) throw new Unauthorized("Invalid visitor token");
    const cached = inboxCache.get(claims.i);
    let inbox = cached && cached.until > Date.now() ? cached.inbox : undefined;
    if (!inbox) {
      [inbox] = await db.select().from(inboxes).where(eq(inboxes.id, claims.i));
      if (inbox) inboxCache.set(claims.i, { inbox, until: Date.now() + INBOX_CACHE_MS });
      if (inboxCache.size > 10_000) inboxCache.clear();
    }
    if (!inbox || inbox.workspaceId !== claims.w) throw new Unauthorized("Invalid visitor token");
    if (!(await visitorContact(db, claims))) throw new Unauthorized("This chat session has ended; start a new one");
    return claims;
  }

  app.use("/*", async (c, next) => {
    throttle(perIp, clientIp(rt.config.trustProxy, c));
    // Only the exact /sessions of this router opens a session without a token: a suffix match would
    // leave any later route whose path ends so open to anyone.
    if (c.req.path === `${routePath(c).replace(/\/\*$/, "")}/sessions`) return next();
    const header = c.req.header("authorization");
    const claims = await visitorFrom(header?.toLowerCase().startsWith("bearer ") ? header.slice(7).trim() : undefined);
    throttle(perVisitor, claims.c);
    c.set("visitor", claims);
    await next();
  });

  app.openapi(
    createRoute({
      method: "post",
      path: "/sessions",
      request: { body: { content: { "application/json": { schema: SessionBody } }, required: true } },
      responses: ok("A visitor session"),
      tags: ["widget"],
    }),
    async (c) => {
      const input = c.req.valid("json");
      const [inbox] = await db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.publicKey, input.inboxKey), eq(inboxes.channel, "webchat")));
      if (!inbox) throw new NotFound("Inbox", "inboxKey");
      let claims: VisitorClaims | undefined;
      if (input.userId) {
        // Opened only for a signed-in visitor: anonymous chat works even when the inbox's credentials
        // were sealed with a lost key (then identity checks answer 409 naming the inbox).
        const secret = readCredentials(rt.keyring, inbox, db).hmacSecret;
        if (
          typeof secret !== "string" ||
          !input.userHash ||
          !verifyVisitorIdentity(secret, input.userId, input.userHash)
        )
          throw new Unauthorized("User identity could not be verified", "userHash");
        const value = `user:${input.userId}`;
        const contactId = await db.transaction(
          async (tx) =>
            (
              await resolveContact(tx, inbox.workspaceId, {
                kind: "visitor",
                value,
                displayName: input.name,
                verified: true,
              })
            ).contactId,
        );
        // The visitor chatted anonymously before signing in: that chat joins the verified contact
        // (once: a page that sends the same old token again finds it already merged). The old token
        // is retired by the merge (visitorContact): it never resumes as the verified contact.
        const previous = input.visitorToken ? rt.keyring.verifyToken<unknown>(input.visitorToken) : undefined;
        if (
          isVisitorClaims(previous) &&
          previous.i === inbox.id &&
          previous.c !== contactId &&
          previous.v.startsWith("anon:")
        ) {
          if (await visitorContact(db, previous))
            await mergeContacts(rt.core, inbox.workspaceId, contactId, previous.c);
        }
        claims = visitorClaims(
          { w: inbox.workspaceId, i: inbox.id, c: contactId, v: value },
          rt.config.visitorTokenDays,
        );
      } else if (inbox.settings.requireIdentityVerification) {
        throw new Unauthorized("This chat requires a signed-in user");
      } else {
        // Only an anonymous session resumes without proof, and only as its own contact: a verified one
        // is proved again (userId and userHash), and one whose contact was merged starts afresh.
        const previous = input.visitorToken ? rt.keyring.verifyToken<unknown>(input.visitorToken) : undefined;
        if (
          isVisitorClaims(previous) &&
          previous.i === inbox.id &&
          previous.v.startsWith("anon:") &&
          (await visitorContact(db, previous))
        )
          // Resumed: a fresh token, so a visitor who keeps coming back is never cut off mid-chat.
          claims = visitorClaims(previous, rt.config.visitorTokenDays);
        else {
          const value = `anon:${crypto.randomUUID()}`;
          const contactId = await db.transaction(
            async (tx) =>
              (
                await resolveContact(tx, inbox.workspaceId, {
                  kind: "visitor",
                  value,
                  displayName: input.name,
                  verified: false,
                })
              ).contactId,
          );
          claims = visitorClaims(
            { w: inbox.workspaceId, i: inbox.id, c: contactId, v: value },
            rt.config.visitorTokenDays,
          );
        }
      }
      // What a visitor types into the pre-chat form is kept on the contact, not as an identity: an
      // unverified email must never pull someone else's email history into this chat.
      if (input.name || input.email) await rememberVisitorDetails(db, claims.c, input.name, input.email);
      const [contact] = await db
        .select({ id: contacts.id, name: contacts.name })
        .from(contacts)
        .where(eq(contacts.id, claims.c));
      return c.json(
        {
          visitorToken: rt.keyring.signToken(claims),
          conversationId: await openConversationOf(db, inbox.workspaceId, claims.c),
          contact: contact ?? { id: claims.c, name: null },
          inbox: await inboxInfo(
            db,
            inbox,
            input.locale ?? (typeof inbox.settings.locale === "string" ? inbox.settings.locale : undefined),
          ),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/messages",
      request: { query: HistoryQuery },
      responses: ok("The visitor's chat history, oldest first"),
      tags: ["widget"],
    }),
    async (c) => {
      const visitor = c.get("visitor");
      const { before, limit } = c.req.valid("query");
      const rows = await db
        .select({ id: timelineItems.id })
        .from(timelineItems)
        .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
        .where(
          and(
            eq(conversations.workspaceId, visitor.w),
            eq(conversations.contactId, visitor.c),
            eq(timelineItems.type, "message"),
            eq(timelineItems.channel, "webchat"),
            before !== undefined ? lt(timelineItems.seq, before) : undefined,
          ),
        )
        .orderBy(desc(timelineItems.seq))
        .limit(limit + 1);
      const page = rows.slice(0, limit).reverse();
      const items = (await Promise.all(page.map((r) => loadTimelineItem(db, r.id)))).filter(
        (i): i is TimelineView => !!i,
      );
      return c.json(
        { items: items.map(visitorView), nextCursor: rows.length > limit && items[0] ? String(items[0].seq) : null },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/messages",
      request: { body: { content: { "application/json": { schema: WidgetMessage } }, required: true } },
      responses: created("The stored message"),
      tags: ["widget"],
    }),
    async (c) => {
      const body = c.req.valid("json");
      if (!body.text?.trim() && !body.attachments?.length)
        throw new Invalid("A message needs text or an attachment", "text");
      const result = await rt.inbound.submit(c.get("visitor").w, parseWidgetMessage(body, c.get("visitor")));
      return c.json(
        { item: visitorView(result.item), conversationId: result.conversation.id, duplicate: result.duplicate },
        201,
      );
    },
  );

  app.openapi(
    createRoute({ method: "post", path: "/attachments", responses: created("The stored file"), tags: ["widget"] }),
    async (c) => {
      const visitor = c.get("visitor");
      const ip = clientIp(rt.config.trustProxy, c);
      // The multipart body is a little larger than the file: its length bounds what to reserve.
      const wanted = Math.min(MAX_ATTACHMENT_BYTES, Number(c.req.header("content-length")) || MAX_ATTACHMENT_BYTES);
      const allowance = await uploadQuota.reserve(db, { workspaceId: visitor.w, contactId: visitor.c, ip }, wanted);
      try {
        const { limitedBy } = allowance;
        const limit = {
          maxBytes: allowance.bytes,
          uploaderIp: ip,
          overLimit: limitedBy ? () => new TooManyRequests(3600, limitedBy, "file") : undefined,
        };
        return c.json(
          await rt.files.saveUpload(db, visitor.w, { contactId: visitor.c }, await streamedUpload(c.req.raw), limit),
          201,
        );
      } finally {
        allowance.release();
      }
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/typing",
      request: {
        body: { content: { "application/json": { schema: z.object({ typing: z.boolean() }) } }, required: true },
      },
      responses: ok("Sent"),
      tags: ["widget"],
    }),
    async (c) => {
      const visitor = c.get("visitor");
      const [conversation] = await db
        .select()
        .from(conversations)
        .where(
          and(
            eq(conversations.workspaceId, visitor.w),
            eq(conversations.contactId, visitor.c),
            inArray(conversations.status, ["open", "pending", "snoozed"]),
          ),
        )
        .orderBy(desc(conversations.lastActivityAt))
        .limit(1);
      if (conversation) {
        const [contact] = await db.select({ name: contacts.name }).from(contacts).where(eq(contacts.id, visitor.c));
        publishTyping(
          rt.core.bus,
          conversation,
          { type: "contact", name: contact?.name ?? null },
          c.req.valid("json").typing,
        );
      }
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/queue",
      responses: ok("Where the visitor stands: position and estimated wait, while queued"),
      tags: ["widget"],
    }),
    async (c) => {
      const visitor = c.get("visitor");
      const conversationId = await openConversationOf(db, visitor.w, visitor.c);
      const place = conversationId ? await queuePosition(db, conversationId) : undefined;
      return c.json(
        { queued: !!place, position: place?.position ?? null, estimatedWaitS: place?.estimatedWaitS ?? null },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/contact",
      request: { body: { content: { "application/json": { schema: ContactBody } }, required: true } },
      responses: ok("Saved"),
      tags: ["widget"],
    }),
    async (c) => {
      const { email, name } = c.req.valid("json");
      await rememberVisitorDetails(db, c.get("visitor").c, name, email);
      return c.json({ ok: true }, 200);
    },
  );

  app.route("/", widgetCallApi(rt));
  app.route("/", widgetCsatApi(rt));
  // Self-service: public articles for what the visitor is typing (partial words are no knowledge gap).
  app.openapi(
    createRoute({
      method: "get",
      path: "/articles",
      request: { query: ArticlesQuery },
      responses: ok("{items:[{id,title,snippet,url}]}"),
      tags: ["widget"],
    }),
    async (c) => {
      const visitor = c.get("visitor");
      const hits = await rt.knowledge.search.search(
        { workspaceId: visitor.w, q: c.req.valid("query").q, publicOnly: true, limit: 5 },
        { recordGap: false },
      );
      const base = rt.config.publicUrl ?? new URL(c.req.url).origin;
      const links = await Promise.all(hits.map((h) => articleUrl(db, base, visitor.w, h.id)));
      return c.json(
        { items: hits.map((h, i) => ({ id: h.id, title: h.title, snippet: h.summary || h.snippet, url: links[i] })) },
        200,
      );
    },
  );

  return app;
}
