import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { createInbox, requireInbox, updateInboxSettings } from "../../conversations/inbox.ts";
import { inboxes, ivrFlows, queues } from "../../db/schema/index.ts";
import { checkFlow, IvrFlow, queuesOf } from "../../channels/voice/flow.ts";
import { accountHoldsNumber } from "../../channels/voice/rest.ts";
import { Conflict, Invalid, NotFound } from "../../platform/errors.ts";
import { body, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import { CallLineBody, setCallLine } from "../../calls/phone-line.ts";
import type { AuthEnv } from "./auth.ts";

export const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number like +8613800000000");
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

/**
 * Phone lines for admins: a voice inbox with its Twilio account (the number proven to be the
 * account's), its credentials entered again, a web chat inbox's line for widget calls, and the IVR
 * flow editor's API.
 */
export function voiceInboxApi(rt: Runtime) {
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
