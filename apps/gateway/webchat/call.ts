import { createRoute, z } from "@hono/zod-openapi";
import type { VisitorClaims } from "../../../channels/webchat/index.ts";
import {
  acceptCall,
  hangUp,
  HangUpReason,
  liveCallViews,
  markConnected,
  requestCall,
  type CallParty,
} from "../../../calls/browser-call.ts";
import { CallSignal, relaySignal } from "../../../calls/browser-call-signal.ts";
import type { DomainEvent } from "../../../conversations/event.ts";
import { and, desc, eq, inArray } from "drizzle-orm";
import { conversations, inboxes } from "../../../db/schema/index.ts";
import { Conflict } from "../../../platform/errors.ts";
import { body, created, ok, router } from "../../server/http.ts";
import { callLineOf, noCallLine, visitorCallTicket } from "../../../calls/phone-line.ts";
import type { Runtime } from "../../server/runtime.ts";

type WidgetEnv = { Variables: { visitor: VisitorClaims } };

const CallParams = z.object({ callId: z.uuid() });
const CallBody = z.object({ callId: z.uuid() }).openapi("WidgetCall");
const HangUpBody = z.object({ reason: HangUpReason.optional() });

const visitorParty = (v: VisitorClaims): CallParty & { kind: "visitor" } => ({
  kind: "visitor",
  workspaceId: v.w,
  contactId: v.c,
});

/**
 * The visitor's side of browser calls, mounted inside the widget API (/widget/v1), behind its
 * visitor-token check and throttles: ask for a call, take an agent's invitation, relay signalling,
 * hang up. A visitor reaches only calls of their own conversations (else 404).
 */
export function widgetCallApi(rt: Runtime) {
  const app = router<WidgetEnv>();

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls",
      request: body(CallBody),
      responses: created("The call, ringing for the agents"),
      tags: ["widget"],
    }),
    async (c) => {
      const v = c.get("visitor");
      const call = await requestCall(
        rt.core,
        { workspaceId: v.w, contactId: v.c, inboxId: v.i, visitorId: v.v },
        c.req.valid("json").callId,
      );
      return c.json({ call, iceServers: rt.config.iceServers }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/twilio",
      responses: created(
        "{identity, token, expiresAt, params}: what Twilio's Voice SDK needs to call the chat's phone line",
      ),
      tags: ["widget"],
    }),
    async (c) => {
      const v = c.get("visitor");
      const db = rt.core.db;
      const [chat] = await db.select().from(inboxes).where(eq(inboxes.id, v.i));
      const found = chat && (await callLineOf(db, rt.keyring, chat, rt.config.twilioAuthToken));
      if (!found) throw noCallLine();
      const [conversation] = await db
        .select({ id: conversations.id })
        .from(conversations)
        .where(
          and(
            eq(conversations.workspaceId, v.w),
            eq(conversations.contactId, v.c),
            eq(conversations.inboxId, v.i),
            inArray(conversations.status, ["open", "pending", "snoozed"]),
          ),
        )
        .orderBy(desc(conversations.lastActivityAt))
        .limit(1);
      if (!conversation) throw new Conflict("Write a message first: a call continues a chat", "conversationId");
      return c.json(visitorCallTicket(found.line, v.c, conversation.id), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/calls/live",
      responses: ok("The visitor's live calls (an invitation that rang while the widget was away)"),
      tags: ["widget"],
    }),
    async (c) =>
      c.json(
        { items: await liveCallViews(rt.core.db, visitorParty(c.get("visitor"))), iceServers: rt.config.iceServers },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{callId}/accept",
      request: { params: CallParams },
      responses: ok("The call, connecting"),
      tags: ["widget"],
    }),
    async (c) =>
      c.json(
        {
          call: await acceptCall(rt.core, visitorParty(c.get("visitor")), c.req.valid("param").callId),
          iceServers: rt.config.iceServers,
        },
        200,
      ),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{callId}/connected",
      request: { params: CallParams },
      responses: ok("Talk time started"),
      tags: ["widget"],
    }),
    async (c) =>
      c.json({ call: await markConnected(rt.core, visitorParty(c.get("visitor")), c.req.valid("param").callId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{callId}/signal",
      request: { params: CallParams, ...body(CallSignal) },
      responses: ok("Relayed to the agent"),
      tags: ["widget"],
    }),
    async (c) => {
      await relaySignal(rt.core, visitorParty(c.get("visitor")), c.req.valid("param").callId, c.req.valid("json"));
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{callId}/hangup",
      request: { params: CallParams, ...body(HangUpBody) },
      responses: ok("The call, ended"),
      tags: ["widget"],
    }),
    async (c) =>
      c.json(
        {
          call: await hangUp(
            rt.core,
            visitorParty(c.get("visitor")),
            c.req.valid("param").callId,
            c.req.valid("json").reason,
          ),
        },
        200,
      ),
  );

  return app;
}

/** The widget socket's frame for a browser-call event (state or signal), or undefined for any other. */
export function widgetCallFrame(e: DomainEvent): string | undefined {
  if (e.type === "call.state")
    return JSON.stringify({ seq: e.seq, type: e.type, conversationId: e.conversationId, call: e.payload.call });
  if (e.type === "call.signal")
    return JSON.stringify({
      seq: e.seq,
      type: e.type,
      conversationId: e.conversationId,
      callId: e.payload.callId,
      signal: e.payload.signal,
    });
  return undefined;
}
