import { createRoute, z } from "@hono/zod-openapi";
import {
  answerCall,
  hangUp,
  HangUpReason,
  inviteToCall,
  liveCallViews,
  markConnected,
  type CallParty,
} from "../../calls/browser-call.ts";
import { CallSignal, relaySignal } from "../../calls/browser-call-signal.ts";
import { followAssignment } from "../../routing/work.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const CallParams = z.object({ id: z.uuid(), callId: z.uuid() });
const InviteBody = z.object({ callId: z.uuid() }).openapi("BrowserCallInvite");
const HangUpBody = z.object({ reason: HangUpReason.optional() });

/**
 * The agent's side of browser calls (chat → voice over WebRTC), under /api/v1. Media flows browser
 * to browser; these routes keep the call item and relay signalling to the conversation's visitor.
 */
export function browserCallApi(rt: Runtime) {
  const app = router<AuthEnv>();
  const agent = (c: { get(k: "actor"): AuthEnv["Variables"]["actor"] }): CallParty => ({
    kind: "agent",
    actor: c.get("actor"),
  });

  /** The conversation changed hands with the call: its routed work follows, as with a manual assign. */
  const follow = async (conversationId: string, agentId: string) => {
    const moved = await followAssignment(rt.core, conversationId, agentId);
    if (moved) rt.router.schedule(moved.workspaceId);
  };

  app.openapi(
    createRoute({
      method: "get",
      path: "/browser-calls",
      responses: ok("My live browser calls and those ringing for me"),
      tags: ["calls"],
    }),
    async (c) => c.json({ items: await liveCallViews(rt.core.db, agent(c)), iceServers: rt.config.iceServers }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/browser-calls",
      request: { params: IdParam, ...body(InviteBody) },
      responses: created("The call, ringing in the visitor's chat"),
      tags: ["calls"],
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const actor = c.get("actor");
      const { call, assigned } = await inviteToCall(rt.core, actor, id, c.req.valid("json").callId);
      if (assigned) await follow(id, actor.userId);
      return c.json({ call, iceServers: rt.config.iceServers }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/browser-calls/{callId}/answer",
      request: { params: CallParams },
      responses: ok("The call, now mine"),
      tags: ["calls"],
    }),
    async (c) => {
      const { id, callId } = c.req.valid("param");
      const actor = c.get("actor");
      const { call, assigned } = await answerCall(rt.core, actor, id, callId);
      if (assigned) await follow(id, actor.userId);
      return c.json({ call, iceServers: rt.config.iceServers }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/browser-calls/{callId}/connected",
      request: { params: CallParams },
      responses: ok("Talk time started"),
      tags: ["calls"],
    }),
    async (c) => {
      const { id, callId } = c.req.valid("param");
      return c.json({ call: await markConnected(rt.core, agent(c), callId, id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/browser-calls/{callId}/signal",
      request: { params: CallParams, ...body(CallSignal) },
      responses: ok("Relayed to the visitor"),
      tags: ["calls"],
    }),
    async (c) => {
      const { id, callId } = c.req.valid("param");
      await relaySignal(rt.core, agent(c), callId, c.req.valid("json"), id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/browser-calls/{callId}/hangup",
      request: { params: CallParams, ...body(HangUpBody) },
      responses: ok("The call, ended"),
      tags: ["calls"],
    }),
    async (c) => {
      const { id, callId } = c.req.valid("param");
      return c.json({ call: await hangUp(rt.core, agent(c), callId, c.req.valid("json").reason, id) }, 200);
    },
  );

  return app;
}
