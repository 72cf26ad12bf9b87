import { and, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { TwilioStandIn, type StandInLeg } from "./twilio-stand-in.ts";
import { inboxes } from "../../db/schema/index.ts";
import { NotFound } from "../../platform/errors.ts";
import { log } from "../../platform/log.ts";
import { parseInput } from "../../platform/validation.ts";
import type { Runtime } from "../server/runtime.ts";
import { voiceInbox } from "../../calls/voice-inbox.ts";

/** The demo voice inbox points its REST API here: this node's built-in Twilio stand-in. */
export const STAND_IN_REST_PATH = "/simulator/twilio";

const ScriptedCall = z.object({
  from: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number")
    .default("+8613800138000"),
  callerName: z.string().max(100).optional(),
  /** What the caller says at the menu, or keys pressed (say wins). */
  say: z.string().max(200).optional(),
  digits: z
    .string()
    .regex(/^[0-9*#]{1,20}$/)
    .optional(),
  /** Seconds the caller talks once connected before hanging up (the agent may hang up first). */
  talkSeconds: z.number().int().min(1).max(600).optional(),
});

/**
 * Demo mode only: calls without a Twilio account. `POST /simulator/calls` places a scripted call to
 * the demo number (signed webhooks, Twilio's order); `GET /simulator/calls/:sid` shows how it went;
 * under /simulator/twilio the stand-in answers the REST requests the call's control makes.
 */
export function twilioStandInRoutes(rt: Runtime) {
  const app = new Hono();
  let standIn: Promise<{ twilio: TwilioStandIn; number: string }> | undefined;

  const demo = () =>
    (standIn ??= (async () => {
      const [row] = await rt.core.db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.channel, "voice"), sql`${inboxes.settings}->>'apiBaseUrl' = ${STAND_IN_REST_PATH}`))
        .limit(1);
      if (!row) throw new NotFound("Simulated voice inbox");
      const inbox = voiceInbox(row, rt.keyring, rt.config.twilioAuthToken);
      const twilio = new TwilioStandIn({
        gatewayUrl: rt.calls.publicBase,
        authToken: inbox.authToken!,
        accountSid: inbox.credentials.accountSid!,
      });
      return { twilio, number: inbox.settings.phoneNumber! };
    })().catch((err) => {
      standIn = undefined;
      throw err;
    }));

  app.all(`${STAND_IN_REST_PATH}/*`, async (c) => (await demo()).twilio.rest(c.req.raw, STAND_IN_REST_PATH));

  app.post("/simulator/calls", async (c) => {
    const input = parseInput(ScriptedCall, await c.req.json().catch(() => ({})));
    const { twilio, number } = await demo();
    const leg = await twilio.placeCall({ from: input.from, to: number, callerName: input.callerName });
    if (input.say) await twilio.say(leg, input.say);
    else await twilio.press(leg, input.digits ?? "0");
    if (input.talkSeconds) void hangUpAfterTalking(twilio, leg, input.talkSeconds);
    return c.json(legView(leg), 201);
  });

  app.get("/simulator/calls/:sid", async (c) => {
    const { twilio } = await demo();
    const leg = twilio.legs.get(c.req.param("sid"));
    if (!leg) throw new NotFound("Simulated call", "sid");
    return c.json(legView(leg), 200);
  });

  return app;
}

const legView = (leg: StandInLeg) => ({
  callSid: leg.sid,
  from: leg.from,
  to: leg.to,
  status: leg.status,
  inConference: leg.conference !== null,
  heard: leg.heard,
  log: leg.log,
});

/** The simulated caller stays on the line for `seconds` once an agent has joined, then hangs up. */
async function hangUpAfterTalking(twilio: TwilioStandIn, leg: StandInLeg, seconds: number) {
  try {
    const deadline = Date.now() + 30 * 60_000;
    while (!leg.conference && leg.status !== "completed" && Date.now() < deadline) await Bun.sleep(250);
    if (leg.status === "completed") return;
    await Bun.sleep(seconds * 1000);
    await twilio.hangup(leg);
  } catch (err) {
    log.warn("twilio stand-in: hang-up failed", { err: err instanceof Error ? err.message : String(err) });
  }
}
