import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { createInbox, requireInbox, updateInboxSettings } from "../../conversations/inbox.ts";
import { callById, callData, liveCalls } from "../../calls/call.ts";
import { requireConversation } from "../../conversations/conversation.ts";
import { contactIdentities, conversations, inboxes, ivrFlows, queues, type Call } from "../../db/schema/index.ts";
import { checkFlow, IvrFlow, queuesOf } from "../../channels/voice/flow.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../../platform/errors.ts";
import type { Actor } from "../../conversations/actor.ts";
import { can } from "../../platform/permission.ts";
import { body, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { accountHoldsNumber } from "../../channels/voice/rest.ts";
import { clientIdentity } from "../../calls/call-control.ts";
import { CallLineBody, setCallLine } from "../../calls/phone-line.ts";
import {
  CallSignal,
  MonitorMode,
  monitorBrowserCall,
  relayMonitorSignal,
  stopMonitoringBrowserCall,
} from "../../calls/browser-call.ts";
import { mintsTokens, voiceInbox, voiceToken } from "../../calls/voice-inbox.ts";
import type { AuthEnv } from "./auth.ts";

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
const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number like +8613800000000");
const VoiceInboxBody = z.object({
  name: z.string().trim().min(1).max(100),
  phoneNumber: E164,
  accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, "must be a Twilio Account SID (AC…)"),
  authToken: z.string().min(16).max(100),
  apiKeySid: z
    .string()
    .regex(/^SK[0-9a-fA-F]{32}$/, "must be a Twilio API key SID (SK…)")
    .optional(),
  apiKeySecret: z.string().min(16).max(100).optional(),
  twimlAppSid: z
    .string()
    .regex(/^AP[0-9a-fA-F]{32}$/, "must be a TwiML app SID (AP…)")
    .optional(),
  recording: z.enum(["always", "on_demand", "never"]).default("on_demand"),
  recordingRetentionDays: z.number().int().min(1).max(3650).optional(),
  language: z.enum(["en", "zh-CN"]).default("en"),
});
/** A phone line's credentials entered again (lost with a SECRET_KEY, or changed at Twilio). */
const VoiceCredentialsBody = VoiceInboxBody.pick({
  accountSid: true,
  authToken: true,
  apiKeySid: true,
  apiKeySecret: true,
  twimlAppSid: true,
});
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
 * transfer, hang up, record), monitoring, click-to-call, and the IVR flow editor's API.
 */
export function voiceApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  const control = rt.calls;

  /** The proof that a workspace may answer a number: Twilio lists it in the account it gave. */
  async function proveNumber(account: { accountSid: string; authToken: string }, phoneNumber: string) {
    const holds = await accountHoldsNumber({ ...account, apiBaseUrl: rt.config.twilioApiBaseUrl }, phoneNumber).catch(
      (err: unknown) => {
        throw new Conflict(
          `Twilio could not be asked whether this account holds the number: ${err instanceof Error ? err.message : String(err)}`,
          "phoneNumber",
        );
      },
    );
    if (holds === "unauthorized") throw new Invalid("Twilio refused this Account SID and auth token", "authToken");
    if (!holds)
      throw new Invalid(
        "This Twilio account does not hold this number (Phone Numbers in the Twilio console)",
        "phoneNumber",
      );
  }

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

  app.openapi(
    createRoute({
      method: "post",
      path: "/inboxes/voice",
      request: body(VoiceInboxBody),
      responses: ok("The phone line's inbox; its credentials are sealed and never shown again"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const input = c.req.valid("json");
      const { name, phoneNumber, recording, recordingRetentionDays, language, ...credentials } = input;
      // The owner is proven before anything is claimed: Twilio must list the number in this account.
      await proveNumber(input, phoneNumber);
      // The routing key's constraint answers a number another inbox (any workspace) holds with a 409.
      const inbox = await createInbox(db, rt.keyring, {
        workspaceId: actor.workspaceId,
        channel: "voice",
        name,
        settings: { phoneNumber, recording, language, ...(recordingRetentionDays ? { recordingRetentionDays } : {}) },
        credentials,
        ownerProven: true,
      });
      return c.json(
        {
          id: inbox.id,
          name: inbox.name,
          channel: inbox.channel,
          phoneNumber,
          webhooks: {
            incoming: `${control.publicBase}/webhooks/twilio/voice`,
            status: `${control.publicBase}/webhooks/twilio/voice/status`,
          },
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/inboxes/{id}/voice/credentials",
      request: { params: IdParam, ...body(VoiceCredentialsBody) },
      responses: ok("Saved: the account holds the line's number. Works when the old credentials cannot be opened"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const inbox = await requireInbox(db, actor.workspaceId, c.req.valid("param").id);
      const phoneNumber = (inbox.settings as { phoneNumber?: string }).phoneNumber;
      if (inbox.channel !== "voice" || !phoneNumber) throw new Invalid("This inbox is not a phone line", "id");
      const credentials = c.req.valid("json");
      await proveNumber(credentials, phoneNumber);
      await updateInboxSettings(db, rt.keyring, actor.workspaceId, inbox.id, inbox.settings, credentials);
      return c.json({ id: inbox.id, name: inbox.name, channel: inbox.channel, phoneNumber }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/call-line",
      request: { params: IdParam },
      responses: ok("{voiceInboxId, queueId}: where a web chat inbox's widget calls go; nulls for browser calls"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const [inbox] = await db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, c.req.valid("param").id)));
      if (!inbox) throw new NotFound("Inbox", "id");
      const line = inbox.settings.callLine;
      return c.json({ voiceInboxId: line?.voiceInboxId ?? null, queueId: line?.queueId ?? null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/inboxes/{id}/call-line",
      request: { params: IdParam, ...body(CallLineBody) },
      responses: ok("Saved; 400 names what the line lacks"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const saved = await setCallLine(
        db,
        rt.keyring,
        actor.workspaceId,
        c.req.valid("param").id,
        c.req.valid("json"),
        rt.config.twilioAuthToken,
      );
      const line = saved.settings.callLine;
      return c.json({ voiceInboxId: line?.voiceInboxId ?? null, queueId: line?.queueId ?? null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/ivr-flow",
      request: { params: IdParam },
      responses: ok("{flow, updatedAt} or {flow:null}"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const [row] = await db
        .select()
        .from(ivrFlows)
        .where(and(eq(ivrFlows.workspaceId, actor.workspaceId), eq(ivrFlows.inboxId, c.req.valid("param").id)));
      return c.json({ flow: row?.flow ?? null, updatedAt: row?.updatedAt.toISOString() ?? null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/inboxes/{id}/ivr-flow",
      request: { params: IdParam, ...body(z.object({ flow: z.unknown() })) },
      responses: ok("The saved flow; 400 names the first problem"),
      tags: ["voice"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const inboxId = c.req.valid("param").id;
      const [inbox] = await db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, inboxId), eq(inboxes.channel, "voice")));
      if (!inbox) throw new NotFound("Voice inbox", "id");
      const parsed = IvrFlow.safeParse(c.req.valid("json").flow);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = ["flow", ...issue.path.map(String)].join(".");
        throw new Invalid(`${field}: ${issue.message}`, field);
      }
      const problem = checkFlow(parsed.data)[0];
      if (problem) throw new Invalid(`flow.${problem.path}: ${problem.message}`, `flow.${problem.path}`);
      for (const ref of queuesOf(parsed.data)) {
        const [q] = await db
          .select({ id: queues.id })
          .from(queues)
          .where(and(eq(queues.workspaceId, actor.workspaceId), eq(queues.id, ref.queueId)));
        if (!q) throw new Invalid(`flow.${ref.path}: no such queue`, `flow.${ref.path}`);
      }
      const values = {
        inboxId,
        workspaceId: actor.workspaceId,
        flow: parsed.data as Record<string, unknown>,
        updatedBy: actor.userId,
        updatedAt: new Date(),
      };
      const [saved] = await db
        .insert(ivrFlows)
        .values(values)
        .onConflictDoUpdate({
          target: ivrFlows.inboxId,
          set: { flow: values.flow, updatedBy: actor.userId, updatedAt: values.updatedAt },
        })
        .returning();
      control.forgetFlow(inboxId);
      return c.json({ flow: saved!.flow, updatedAt: saved!.updatedAt.toISOString() }, 200);
    },
  );

  return app;
}
