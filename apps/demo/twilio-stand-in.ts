import { readTwiml, spoken, type Verb } from "../../channels/voice/twiml-read.ts";
import { twilioSignature } from "../../channels/voice/verify.ts";

/**
 * Twilio's side of phone calls, played against our gateway over real HTTP: signed webhooks in
 * Twilio's order (incoming → gather results → queue → agent join → status callbacks), and a stand-in
 * for the REST API that records every request and acts on it as Twilio documents (a redirected call
 * fetches its new TwiML, a created call rings and answers, a hold posts the conference event). Demo
 * mode places its calls with it, and the tests drive whole calls with it. No audio: only the signalling.
 */
export type StandInLeg = {
  sid: string;
  from: string;
  to: string;
  /** Number-level status callback for an incoming call, else the one given when it was created. */
  statusCallback: string;
  status: "ringing" | "in-progress" | "completed";
  heard: string[];
  /** The Gather, Record or wait the leg stands at, for the next key press, words or music end. */
  pending: { kind: "gather" | "record"; action: string; redirect?: string } | null;
  conference: string | null;
  log: string[];
};

export type RestRequest = { method: string; path: string; form: Record<string, string> };

type Conference = { sid: string; name: string; statusCallback: string | null; participants: Set<string> };

const hex32 = () => crypto.randomUUID().replace(/-/g, "");
export const fakeSid = (prefix: string) => prefix + hex32();

export class TwilioStandIn {
  readonly legs = new Map<string, StandInLeg>();
  readonly requests: RestRequest[] = [];
  private readonly conferences = new Map<string, Conference>();
  private readonly work = new Set<Promise<unknown>>();
  /** Set to false to leave created legs ringing (an agent who does not answer). */
  answerCreatedCalls = true;

  constructor(private readonly o: { gatewayUrl: string; authToken: string; accountSid: string }) {}

  private abs(url: string) {
    return new URL(url, this.o.gatewayUrl).toString();
  }

  /** POSTs a signed webhook as Twilio does; returns the body (TwiML or nothing). */
  async post(url: string, params: Record<string, string>, options: { sign?: boolean; token?: string } = {}) {
    const target = this.abs(url);
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (options.sign !== false)
      headers["x-twilio-signature"] = twilioSignature(options.token ?? this.o.authToken, target, params);
    const res = await fetch(target, { method: "POST", headers, body: new URLSearchParams(params).toString() });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 200)}`);
    return body;
  }

  /**
   * A caller dials the inbox's number (or, with `from: "client:…"`, a Voice SDK browser calls the TwiML
   * app with its custom `params`): Twilio's first webhook, and whatever the TwiML leads to.
   */
  async placeCall(input: { from: string; to: string; callerName?: string; params?: Record<string, string> }) {
    const leg: StandInLeg = {
      sid: fakeSid("CA"),
      from: input.from,
      to: input.to,
      statusCallback: "/webhooks/twilio/voice/status",
      status: "in-progress",
      heard: [],
      pending: null,
      conference: null,
      log: [],
    };
    this.legs.set(leg.sid, leg);
    leg.log.push(`incoming call from ${input.from} to ${input.to}`);
    const twiml = await this.post(
      "/webhooks/twilio/voice",
      this.callParams(leg, {
        CallStatus: "ringing",
        Direction: "inbound",
        ...(input.callerName ? { CallerName: input.callerName } : {}),
        ...input.params,
      }),
    );
    await this.play(leg, twiml, "/webhooks/twilio/voice");
    return leg;
  }

  private callParams(leg: StandInLeg, extra: Record<string, string> = {}) {
    return {
      AccountSid: this.o.accountSid,
      CallSid: leg.sid,
      From: leg.from,
      To: leg.to,
      CallStatus: leg.status,
      ...extra,
    };
  }

  /** Runs a TwiML document for a leg until it must wait for the caller, a conference or the end. */
  async play(leg: StandInLeg, twiml: string, requestUrl: string, depth = 0): Promise<void> {
    if (depth > 20) throw new Error("TwiML redirect loop");
    const verbs = readTwiml(twiml);
    leg.heard.push(...spoken(verbs));
    for (const v of verbs) {
      if (leg.status === "completed") return;
      switch (v.verb) {
        case "Say":
        case "Play":
        case "Pause":
          continue;
        case "Gather": {
          const next = verbs[verbs.indexOf(v) + 1];
          leg.pending = {
            kind: "gather",
            action: new URL(v.attrs.action ?? requestUrl, this.abs(requestUrl)).toString(),
            redirect: next?.verb === "Redirect" ? next.text : undefined,
          };
          leg.log.push(`gather at ${v.attrs.action}`);
          return;
        }
        case "Record":
          leg.pending = {
            kind: "record",
            action: new URL(v.attrs.action ?? requestUrl, this.abs(requestUrl)).toString(),
          };
          leg.log.push("recording a message");
          return;
        case "Redirect": {
          const url = new URL(v.text, this.abs(requestUrl)).toString();
          return this.play(leg, await this.post(url, this.callParams(leg)), url, depth + 1);
        }
        case "Dial":
          return this.dial(leg, v, requestUrl);
        case "Hangup":
          return this.end(leg, "completed");
        default:
          leg.log.push(`ignored <${v.verb}>`);
      }
    }
    // TwiML that runs out hangs up, as Twilio does.
    await this.end(leg, "completed");
  }

  private async dial(leg: StandInLeg, dial: Verb, requestUrl: string) {
    const conf = dial.children.find((c) => c.verb === "Conference");
    if (!conf) {
      const number = dial.children.find((c) => c.verb === "Number")?.text ?? dial.text;
      leg.log.push(`dialled out to ${number}`);
      return this.end(leg, "completed");
    }
    leg.pending = null;
    leg.conference = conf.text;
    let room = this.conferences.get(conf.text);
    const callback = conf.attrs.statusCallback
      ? new URL(conf.attrs.statusCallback, this.abs(requestUrl)).toString()
      : null;
    if (!room) {
      room = { sid: fakeSid("CF"), name: conf.text, statusCallback: callback, participants: new Set() };
      this.conferences.set(conf.text, room);
    }
    room.statusCallback ??= callback;
    room.participants.add(leg.sid);
    leg.log.push(`joined conference ${conf.text}`);
    if (room.participants.size === 1) await this.conferenceEvent(room, "conference-start", leg.sid);
    await this.conferenceEvent(room, "participant-join", leg.sid);
  }

  private async conferenceEvent(room: Conference, event: string, callSid: string, extra: Record<string, string> = {}) {
    if (!room.statusCallback) return;
    await this.post(room.statusCallback, {
      AccountSid: this.o.accountSid,
      ConferenceSid: room.sid,
      FriendlyName: room.name,
      StatusCallbackEvent: event,
      CallSid: callSid,
      ...extra,
    });
  }

  private async end(leg: StandInLeg, status: "completed" | "no-answer" | "busy" | "failed" | "canceled") {
    if (leg.status === "completed") return;
    leg.status = "completed";
    leg.pending = null;
    leg.log.push(`ended: ${status}`);
    if (leg.conference) {
      const room = this.conferences.get(leg.conference);
      room?.participants.delete(leg.sid);
      if (room) await this.conferenceEvent(room, "participant-leave", leg.sid);
    }
    await this.post(leg.statusCallback, this.callParams(leg, { CallStatus: status, CallDuration: "0" }));
  }

  /** The caller presses keys at the gather they stand at. */
  async press(leg: StandInLeg, digits: string) {
    return this.answerGather(leg, { Digits: digits });
  }

  /** The caller speaks at the gather (Twilio's speech recognition result). */
  async say(leg: StandInLeg, words: string) {
    return this.answerGather(leg, { SpeechResult: words, Confidence: "0.9" });
  }

  /** Silence at the gather: Twilio posts the empty result (actionOnEmptyResult). */
  async silence(leg: StandInLeg) {
    return this.answerGather(leg, {});
  }

  private async answerGather(leg: StandInLeg, input: Record<string, string>) {
    const p = leg.pending;
    if (p?.kind !== "gather") throw new Error(`call ${leg.sid} is not at a gather`);
    leg.pending = null;
    const twiml = await this.post(p.action, this.callParams(leg, input));
    await this.play(leg, twiml, p.action);
  }

  /** The hold music ran out while waiting with nothing pressed: Twilio follows the Redirect. */
  async musicEnds(leg: StandInLeg) {
    const p = leg.pending;
    if (p?.kind !== "gather" || !p.redirect) throw new Error(`call ${leg.sid} is not waiting`);
    leg.pending = null;
    const url = new URL(p.redirect, p.action).toString();
    await this.play(leg, await this.post(url, this.callParams(leg)), url);
  }

  /** The caller leaves a voicemail: Twilio posts the Record action and, later, the recording. */
  async leaveMessage(leg: StandInLeg, recording: { sid: string; seconds: number }) {
    const p = leg.pending;
    if (p?.kind !== "record") throw new Error(`call ${leg.sid} is not recording`);
    leg.pending = null;
    const url = `https://api.twilio.com/2010-04-01/Accounts/${this.o.accountSid}/Recordings/${recording.sid}`;
    const twiml = await this.post(
      p.action,
      this.callParams(leg, {
        RecordingSid: recording.sid,
        RecordingUrl: url,
        RecordingDuration: String(recording.seconds),
      }),
    );
    await this.play(leg, twiml, p.action);
  }

  /** The caller hangs up. */
  async hangup(leg: StandInLeg) {
    await this.end(leg, "completed");
  }

  /** Waits for the REST requests' follow-ups (the webhooks they cause) to finish. */
  async settle() {
    while (this.work.size) await Promise.all([...this.work]);
  }

  private later(task: () => Promise<unknown>) {
    const p = task()
      .catch((err: unknown) => console.error("twilio stand-in:", err instanceof Error ? err.message : err))
      .finally(() => this.work.delete(p));
    this.work.add(p);
  }

  // ── REST stand-in (https://api.twilio.com/2010-04-01/…) ──────────────────────────────────

  /** Handles one REST request the way Twilio documents it; mount under any prefix. */
  async rest(req: Request, prefix = ""): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.slice(prefix.length);
    const form =
      req.method === "GET" || req.method === "DELETE" ? {} : Object.fromEntries(new URLSearchParams(await req.text()));
    this.requests.push({ method: req.method, path, form });
    const auth = req.headers.get("authorization") ?? "";
    if (auth !== `Basic ${btoa(`${this.o.accountSid}:${this.o.authToken}`)}`)
      return Response.json({ code: 20003, message: "Authenticate", status: 401 }, { status: 401 });
    const base = `/2010-04-01/Accounts/${this.o.accountSid}`;
    let m: RegExpMatchArray | null;
    if (req.method === "POST" && path === `${base}/Calls.json`) return this.createCall(form);
    if ((m = path.match(new RegExp(`^${base}/Calls/(CA\\w{32})\\.json$`))) && req.method === "POST")
      return this.updateCall(m[1]!, form);
    if ((m = path.match(new RegExp(`^${base}/Calls/(CA\\w{32})/Recordings\\.json$`))) && req.method === "POST")
      return this.startRecording(m[1]!, form);
    if (
      (m = path.match(new RegExp(`^${base}/Conferences/(CF\\w{32})/Participants/(CA\\w{32})\\.json$`))) &&
      req.method === "POST"
    )
      return this.updateParticipant(m[1]!, m[2]!, form);
    if ((m = path.match(new RegExp(`^${base}/Recordings/(RE\\w{32})\\.mp3$`))) && req.method === "GET")
      return new Response(fakeMp3(m[1]!), { headers: { "content-type": "audio/mpeg" } });
    if ((m = path.match(new RegExp(`^${base}/Recordings/(RE\\w{32})\\.json$`))) && req.method === "DELETE")
      return new Response(null, { status: 204 });
    return Response.json(
      { code: 20404, message: "The requested resource was not found", status: 404 },
      { status: 404 },
    );
  }

  private callResource(leg: StandInLeg) {
    return {
      sid: leg.sid,
      account_sid: this.o.accountSid,
      from: leg.from,
      to: leg.to,
      status: leg.status,
      direction: "outbound-api",
      uri: `/2010-04-01/Accounts/${this.o.accountSid}/Calls/${leg.sid}.json`,
    };
  }

  private createCall(form: Record<string, string>) {
    if (!form.To || !form.From || !form.Url)
      return Response.json({ code: 21201, message: "To, From and Url are required", status: 400 }, { status: 400 });
    const leg: StandInLeg = {
      sid: fakeSid("CA"),
      from: form.From,
      to: form.To,
      statusCallback: form.StatusCallback ?? "",
      status: "ringing",
      heard: [],
      pending: null,
      conference: null,
      log: [`created by REST to ${form.To}`],
    };
    this.legs.set(leg.sid, leg);
    this.later(async () => {
      if (leg.statusCallback) await this.post(leg.statusCallback, this.callParams(leg, { CallStatus: "ringing" }));
      if (!this.answerCreatedCalls) return;
      leg.status = "in-progress";
      const twiml = await this.post(form.Url!, this.callParams(leg));
      if (leg.statusCallback) await this.post(leg.statusCallback, this.callParams(leg, { CallStatus: "in-progress" }));
      await this.play(leg, twiml, form.Url!);
    });
    return Response.json(this.callResource(leg), { status: 201 });
  }

  private updateCall(sid: string, form: Record<string, string>) {
    const leg = this.legs.get(sid);
    if (!leg) return Response.json({ code: 20404, message: `Call ${sid} not found`, status: 404 }, { status: 404 });
    if (form.Status === "completed" || form.Status === "canceled") {
      this.later(() => this.end(leg, leg.status === "ringing" ? "canceled" : "completed"));
    } else if (form.Url) {
      this.later(async () => {
        if (leg.conference) {
          const room = this.conferences.get(leg.conference);
          room?.participants.delete(leg.sid);
          if (room) await this.conferenceEvent(room, "participant-leave", leg.sid);
          leg.conference = null;
        }
        leg.pending = null;
        await this.play(leg, await this.post(form.Url!, this.callParams(leg)), form.Url!);
      });
    }
    return Response.json(this.callResource(leg));
  }

  private updateParticipant(conferenceSid: string, callSid: string, form: Record<string, string>) {
    const room = [...this.conferences.values()].find((c) => c.sid === conferenceSid);
    if (!room || !room.participants.has(callSid))
      return Response.json({ code: 20404, message: "Participant not found", status: 404 }, { status: 404 });
    if (form.Hold !== undefined)
      this.later(() =>
        this.conferenceEvent(room, form.Hold === "true" ? "participant-hold" : "participant-unhold", callSid),
      );
    if (form.Muted !== undefined)
      this.later(() =>
        this.conferenceEvent(room, form.Muted === "true" ? "participant-mute" : "participant-unmute", callSid),
      );
    return Response.json({
      call_sid: callSid,
      conference_sid: conferenceSid,
      hold: form.Hold === "true",
      muted: form.Muted === "true",
      coaching: form.Coaching === "true",
    });
  }

  private startRecording(callSid: string, form: Record<string, string>) {
    const sid = fakeSid("RE");
    if (form.RecordingStatusCallback)
      this.later(() =>
        this.post(form.RecordingStatusCallback!, {
          AccountSid: this.o.accountSid,
          CallSid: callSid,
          RecordingSid: sid,
          RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${this.o.accountSid}/Recordings/${sid}`,
          RecordingStatus: "completed",
          RecordingDuration: "5",
        }),
      );
    return Response.json({ sid, call_sid: callSid, status: "in-progress" }, { status: 201 });
  }

  /** Posts a finished recording of a conference (record="record-from-start" ends with the call). */
  async recordingReady(url: string, callSid: string, recordingSid = fakeSid("RE")) {
    await this.post(url, {
      AccountSid: this.o.accountSid,
      CallSid: callSid,
      RecordingSid: recordingSid,
      RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${this.o.accountSid}/Recordings/${recordingSid}`,
      RecordingStatus: "completed",
      RecordingDuration: "7",
    });
    return recordingSid;
  }
}

/** Bytes that stand for a recording: an MP3 frame header and the recording id, so tests can tell them apart. */
export function fakeMp3(recordingSid: string) {
  return new Uint8Array([0xff, 0xfb, 0x90, 0x64, ...new TextEncoder().encode(`recording ${recordingSid}`)]);
}
