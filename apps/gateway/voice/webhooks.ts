import { Hono, type Context } from "hono";
import { z } from "zod";
import { callOfInbox, findCall } from "../../../calls/call.ts";
import type { Call } from "../../../db/schema/index.ts";
import {
  ConferenceEvent,
  formParams,
  GatherResult,
  IncomingCall,
  RecordingEvent,
  StatusCallback,
  TranscriptionEvent,
} from "../../../channels/voice/parse.ts";
import { apologyTwiml, emptyTwiml } from "../../../channels/voice/twiml.ts";
import { verifyTwilioSignature } from "../../../channels/voice/verify.ts";
import { errorBody } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import { parseInput } from "../../../platform/validation.ts";
import type { Runtime } from "../../server/runtime.ts";
import { fromBrowser } from "../../../calls/phone-line.ts";
import type { VoiceInbox } from "../../../calls/voice-inbox.ts";
import { csatAnswerTwiml, csatQuestionTwiml } from "./csat-ivr.ts";
import { storeTwilioTranscript } from "../../../quality/transcription.ts";

const twiml = (c: Context, body: string) => c.body(body, 200, { "content-type": "text/xml; charset=utf-8" });
const forbidden = (c: Context) => c.json(errorBody("forbidden", "Invalid Twilio signature", "X-Twilio-Signature"), 403);

const FollowUp = z.object({ inbox: z.uuid(), call: z.uuid() });
const Leg = z.enum(["customer", "callee", "agent", "consult", "monitor"]);
const Mode = z.enum(["listen", "whisper", "barge"]);

/**
 * Twilio's webhooks for voice inboxes: `POST /webhooks/twilio/voice` for every incoming call (the
 * inbox is the number called), and the call's own steps under it. Each request is verified against
 * the inbox's auth token before anything is read; each is idempotent, because Twilio retries.
 */
export function twilioVoiceWebhooks(rt: Runtime) {
  const app = new Hono();
  const control = rt.calls;

  /** The URL exactly as Twilio requested it: PUBLIC_URL behind a proxy, else the request's own. */
  const signedUrl = (c: Context) => {
    const url = new URL(c.req.url);
    return rt.config.publicUrl ? `${rt.config.publicUrl}${url.pathname}${url.search}` : c.req.url;
  };

  async function verified(c: Context, token: string | undefined) {
    const params = formParams(await c.req.parseBody());
    const ok = !!token && verifyTwilioSignature(token, c.req.header("x-twilio-signature"), signedUrl(c), params);
    return ok ? params : undefined;
  }

  app.post("/webhooks/twilio/voice", async (c) => {
    const raw = formParams(await c.req.parseBody());
    const inbox = raw.To ? await control.inboxByNumber(raw.To) : undefined;
    // A number we do not serve can only be checked against the deployment's own token.
    const params = await verified(c, inbox?.authToken ?? rt.config.twilioAuthToken);
    if (!params) return forbidden(c);
    if (!inbox) {
      log.warn("voice: call for a number no inbox has", { to: params.To });
      return twiml(c, apologyTwiml("en"));
    }
    const p = parseInput(IncomingCall, params);
    // A chatting visitor's browser (Voice SDK through the inbox's TwiML app) continues their chat.
    if (fromBrowser(p.From)) return twiml(c, await control.widgetIncoming(inbox, p, params.conversationId));
    return twiml(c, await control.incoming(inbox, p));
  });

  // The number's own status callback (set in Twilio's console) carries no ids: the number and the
  // CallSid find the call.
  app.post("/webhooks/twilio/voice/status", async (c, next) => {
    if (c.req.query("inbox")) return next();
    const raw = formParams(await c.req.parseBody());
    const inbox = raw.To ? await control.inboxByNumber(raw.To) : undefined;
    const params = await verified(c, inbox?.authToken ?? rt.config.twilioAuthToken);
    if (!params) return forbidden(c);
    const p = parseInput(StatusCallback, params);
    const call = inbox ? await findCall(rt.core.db, inbox.row.id, p.CallSid) : undefined;
    if (inbox && call) await control.status(inbox, call, "customer", p);
    return twiml(c, emptyTwiml());
  });

  app.post("/webhooks/twilio/voice/:step", async (c) => {
    const ids = FollowUp.safeParse({ inbox: c.req.query("inbox"), call: c.req.query("call") });
    const inbox = ids.success ? await control.inbox(ids.data.inbox) : undefined;
    const params = await verified(c, inbox?.authToken);
    if (!params || !inbox || !ids.success) return forbidden(c);
    const call = await callOfInbox(rt.core.db, inbox.row.id, ids.data.call);
    const step = c.req.param("step");
    if (!call) {
      // A webhook for a call we do not know: a polite goodbye, never a dead line.
      log.warn("voice: webhook for an unknown call", { step, callId: ids.data.call });
      return twiml(
        c,
        ["status", "conference", "recording", "transcription"].includes(step)
          ? emptyTwiml()
          : apologyTwiml(inbox.language),
      );
    }
    return twiml(c, await handle(step, c, inbox, call, params));
  });

  async function handle(
    step: string,
    c: Context,
    inbox: VoiceInbox,
    call: Call,
    params: Record<string, string>,
  ): Promise<string> {
    switch (step) {
      case "gather": {
        const p = parseInput(GatherResult, params);
        const n = Number(c.req.query("step"));
        return control.gather(inbox, call, Number.isInteger(n) ? n : -1, { digits: p.Digits, speech: p.SpeechResult });
      }
      // Twilio asks again after each round of music: the wait goes on, or the agent is ready.
      case "wait":
        return control.current(inbox, call);
      case "wait-key":
        return control.waitKey(inbox, call, parseInput(GatherResult, params).Digits);
      case "connect":
        return control.current(inbox, call);
      case "agent":
        return control.agentConference(inbox, call);
      case "monitor":
        return control.agentConference(inbox, call, {
          mode: parseInput(z.object({ mode: Mode }), { mode: c.req.query("mode") }).mode,
        });
      case "status": {
        const { leg, agent } = parseInput(z.object({ leg: Leg, agent: z.uuid().optional() }), {
          leg: c.req.query("leg") ?? "customer",
          agent: c.req.query("agent"),
        });
        await control.status(inbox, call, leg, parseInput(StatusCallback, params), agent);
        return emptyTwiml();
      }
      case "conference":
        await control.conference(call, parseInput(ConferenceEvent, params));
        return emptyTwiml();
      case "recording":
        await control.recording(inbox, call, parseInput(RecordingEvent, params)).catch((err: unknown) => {
          // Kept as known-but-not-stored; the housekeeping retry fetches it later.
          log.warn("voice: storing a recording failed; will retry", {
            callId: call.id,
            err: err instanceof Error ? err.message : String(err),
          });
        });
        return emptyTwiml();
      case "voicemail":
        return control.voicemail(inbox, call);
      // The post-call satisfaction question (queues.csat_ivr) and the caller's key.
      case "csat":
        return csatQuestionTwiml(rt, inbox, call, `csat-answer?inbox=${inbox.row.id}&call=${call.id}`);
      case "csat-answer":
        return csatAnswerTwiml(rt, inbox, call, parseInput(GatherResult, params).Digits);
      case "transcription": {
        const p = parseInput(TranscriptionEvent, params);
        if (p.TranscriptionStatus === "completed" && p.TranscriptionText) {
          await control.transcription(call, p.TranscriptionText);
          // QA reads it as the call's transcript (quality/transcription.ts) and scores the call again.
          await storeTwilioTranscript(rt.core.db, call, p.TranscriptionText);
          rt.quality.schedule(call.conversationId);
        }
        return emptyTwiml();
      }
      default:
        return apologyTwiml(inbox.language);
    }
  }

  return app;
}
