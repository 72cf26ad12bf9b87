import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { callById, callData, liveCalls } from "../../calls/call.ts";
import { requireConversation } from "../../conversations/conversation.ts";
import { contactIdentities, conversations, inboxes, type Call } from "../../db/schema/index.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../../platform/errors.ts";
import type { Actor } from "../../conversations/actor.ts";
import { can } from "../../platform/permission.ts";
import { body, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { clientIdentity } from "../../calls/call-context.ts";
import { CallSignal } from "../../calls/browser-call-signal.ts";
import {
  MonitorMode,
  monitorBrowserCall,
  relayMonitorSignal,
  stopMonitoringBrowserCall,
} from "../../calls/browser-call-monitor.ts";
import { mintsTokens, voiceInbox, voiceToken } from "../../calls/voice-inbox.ts";
import type { AuthEnv } from "./auth.ts";
import { E164 } from "./voice-inbox.ts";

const TOKEN_TTL_S = 3600;
const Hold = z.object({ hold: z.boolean() });
const Mute = z.object({ muted: z.boolean() });
const Transfer = z
  .object({
    agentId: z.uuid().optional(),
    teamId: z.uuid().optional(),
    queueId: z.uuid().optional(),
    warm: z.boolean().default(false),
    note: z.string().trim().max(2000).optional(),
  })
  .refine((t) => [t.agentId, t.teamId, t.queueId].filter(Boolean).length === 1, {
    message: "give exactly one of agentId, teamId or queueId",
    path: ["agentId"],
  });
const Monitor = z.object({ mode: MonitorMode });
/** A browser call's monitoring signal; the agent names the supervisor it answers. */
const MonitorSignal = z.intersection(CallSignal, z.object({ supervisorId: z.uuid().optional() }));
const DialOut = z.object({ inboxId: z.uuid().optional(), number: E164.optional() });

/** What the API shows of a call (the timeline item's data, plus the ids an agent's controls need). */
export type CallView = ReturnType<typeof callView>;
const callView = (call: Call) => ({
  ...callData(call),
  conversationId: call.conversationId,
  inboxId: call.inboxId,
  monitors: call.monitors,
  consult: call.consult,
});

/**
 * Calls for agents and supervisors: softphone tokens, the live calls, call control (hold, mute,
 * transfer, hang up, record), monitoring and click-to-call.
 */
export function voiceApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  const control = rt.calls;

  /** Agents control their own calls; with calls.control_any (supervisors, admins) any call of the workspace. */
  async function controllable(actor: Actor, callId: string) {
    const call = await callById(db, actor.workspaceId, callId);
    if (!can(actor, "calls.control_any") && call.agentId !== actor.userId && call.consult?.agentId !== actor.userId)
      throw new Forbidden("This is not your call");
    return call;
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/voice/token",
      responses: ok("{mode:'twilio', identity, token, expiresAt} for the Voice SDK, or {mode:'simulated'|'none'}"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const rows = await db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.channel, "voice")))
        .orderBy(asc(inboxes.createdAt));
      // A line whose credentials were sealed with a lost key is left out (logged), not a 409 for everyone.
      const all = rows.flatMap((r) => {
        try {
          return [voiceInbox(r, rt.keyring, rt.config.twilioAuthToken)];
        } catch (err) {
          if (err instanceof Conflict) return [];
          throw err;
        }
      });
      // A line whose REST API is a stand-in (the demo's simulator) has no cloud for a softphone to register with.
      const real = all.find((i) => mintsTokens(i) && !i.settings.apiBaseUrl);
      if (real)
        return c.json(
          {
            mode: "twilio" as const,
            ...voiceToken(real, clientIdentity(actor.userId), { incoming: true, ttlS: TOKEN_TTL_S }),
          },
          200,
        );
      return c.json(
        { mode: all.length ? ("simulated" as const) : ("none" as const), identity: clientIdentity(actor.userId) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/calls/live",
      responses: ok("{items:[call]} calls not yet ended, newest first (agents: their own)"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const rows = await liveCalls(db, actor.workspaceId);
      const mine = !can(actor, "calls.control_any")
        ? rows.filter((r) => r.agentId === actor.userId || r.consult?.agentId === actor.userId)
        : rows;
      return c.json({ items: mine.map(callView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/calls/{id}",
      request: { params: IdParam },
      responses: ok("The call"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await callById(db, actor.workspaceId, c.req.valid("param").id);
      await requireConversation(db, actor, call.conversationId);
      return c.json(callView(call), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/hold",
      request: { params: IdParam, ...body(Hold) },
      responses: ok("The call"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      return c.json(callView(await control.hold(actor.workspaceId, call.id, c.req.valid("json").hold)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/mute",
      request: { params: IdParam, ...body(Mute) },
      responses: ok("The call"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      await control.mute(actor.workspaceId, call.id, c.req.valid("json").muted);
      return c.json({ ...callView(call), muted: c.req.valid("json").muted }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/hangup",
      request: { params: IdParam },
      responses: ok("The call (it ends when Twilio confirms)"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      return c.json(callView(await control.hangup(actor.workspaceId, call.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/record",
      request: { params: IdParam },
      responses: ok("Recording started"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      return c.json(callView(await control.record(actor.workspaceId, call.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/transfer",
      request: { params: IdParam, ...body(Transfer) },
      responses: ok("The call"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      const t = c.req.valid("json");
      return c.json(
        callView(
          await control.transfer(
            actor.workspaceId,
            call.id,
            { userId: actor.userId, name: actor.name },
            t,
            t.warm,
            t.note,
          ),
        ),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/transfer/complete",
      request: { params: IdParam },
      responses: ok("The second agent has the call"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const call = await controllable(actor, c.req.valid("param").id);
      return c.json(callView(await control.completeWarmTransfer(actor.workspaceId, call.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/monitor",
      request: { params: IdParam, ...body(Monitor) },
      responses: ok(
        "The call with the supervisor's leg (a browser call: the supervisor's browser then connects to the agent's)",
      ),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { id } = c.req.valid("param");
      const { mode } = c.req.valid("json");
      const call = await callById(db, actor.workspaceId, id);
      if (call.provider === "webrtc") {
        const { call: after, joined } = await monitorBrowserCall(rt.core, actor, id, mode);
        return c.json({ ...callView(after), joined, iceServers: rt.config.iceServers }, 200);
      }
      return c.json(callView(await control.monitor(actor.workspaceId, id, actor.userId, mode)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/monitor/stop",
      request: { params: IdParam },
      responses: ok("The call, without this supervisor"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { id } = c.req.valid("param");
      const call = await callById(db, actor.workspaceId, id);
      if (call.provider === "webrtc") return c.json(callView(await stopMonitoringBrowserCall(rt.core, actor, id)), 200);
      return c.json(callView(await control.stopMonitor(actor.workspaceId, id, actor.userId)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/calls/{id}/monitor/signal",
      request: { params: IdParam, ...body(MonitorSignal) },
      responses: ok("Relayed (browser calls: between the agent's and the supervisor's browsers)"),
      tags: ["voice"],
    }),
    async (c) => {
      const { supervisorId, ...signal } = c.req.valid("json");
      await relayMonitorSignal(rt.core, c.get("actor"), c.req.valid("param").id, signal as CallSignal, supervisorId);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/calls",
      request: { params: IdParam, ...body(DialOut) },
      responses: ok("The outbound call: the agent's softphone rings first"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const conversation = await requireConversation(db, actor, c.req.valid("param").id);
      const input = c.req.valid("json");
      let number = input.number;
      if (!number) {
        const [c0] = await db
          .select({ contactId: conversations.contactId })
          .from(conversations)
          .where(eq(conversations.id, conversation.id));
        const [phone] = await db
          .select()
          .from(contactIdentities)
          .where(and(eq(contactIdentities.contactId, c0!.contactId), eq(contactIdentities.kind, "phone")))
          .limit(1);
        if (!phone) throw new Invalid("The contact has no phone number: give one", "number");
        number = phone.value;
      }
      const [inbox] = await db
        .select({ id: inboxes.id })
        .from(inboxes)
        .where(
          and(
            eq(inboxes.workspaceId, actor.workspaceId),
            eq(inboxes.channel, "voice"),
            input.inboxId ? eq(inboxes.id, input.inboxId) : undefined,
          ),
        )
        .orderBy(asc(inboxes.createdAt))
        .limit(1);
      if (!inbox) throw new NotFound("Voice inbox", "inboxId");
      const call = await control.dialOut(
        actor.workspaceId,
        { userId: actor.userId },
        { conversationId: conversation.id, inboxId: inbox.id, number },
      );
      return c.json(callView(call), 200);
    },
  );

  return app;
}
