import twilio from "twilio";

/**
 * Twilio's REST API through the official library, with its HTTP client swapped for one on fetch so
 * the base address can point at a local stand-in (tests, the built-in call simulator); in production
 * it is https://api.twilio.com. Every call Twilio makes back to us comes as a signed webhook.
 */
export type TwilioAccount = { accountSid: string; authToken: string; apiBaseUrl?: string };

type LibraryRequest = {
  method: string;
  uri: string;
  username?: string;
  password?: string;
  headers?: Record<string, string>;
  params?: Record<string, unknown>;
  data?: Record<string, unknown>;
  timeout?: number;
};

class FetchClient {
  constructor(private readonly base: string | undefined) {}

  async request(opts: LibraryRequest) {
    const url = new URL(opts.uri);
    if (this.base) {
      const base = new URL(this.base);
      url.protocol = base.protocol;
      url.host = base.host;
      url.pathname = base.pathname.replace(/\/$/, "") + url.pathname;
    }
    for (const [k, v] of Object.entries(opts.params ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.username) headers.Authorization = `Basic ${btoa(`${opts.username}:${opts.password ?? ""}`)}`;
    let body: string | undefined;
    if (opts.data && opts.method.toLowerCase() !== "get") {
      const form = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.data)) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) form.append(k, String(one));
      }
      body = form.toString();
    }
    const res = await fetch(url, {
      method: opts.method.toUpperCase(),
      headers,
      body,
      signal: AbortSignal.timeout(opts.timeout ?? 15_000),
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Recordings come back as audio: keep those bytes as they are.
    if (/^audio\//.test(res.headers.get("content-type") ?? ""))
      return { statusCode: res.status, body: bytes, headers: Object.fromEntries(res.headers) };
    const text = new TextDecoder().decode(bytes);
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Errors from proxies are not JSON; the library goes by the status code.
    }
    return { statusCode: res.status, body: parsed, headers: Object.fromEntries(res.headers) };
  }
}

export class TwilioRest {
  private readonly client;

  constructor(private readonly account: TwilioAccount) {
    this.client = twilio(account.accountSid, account.authToken, {
      accountSid: account.accountSid,
      httpClient: new FetchClient(account.apiBaseUrl) as never,
    });
  }

  /** Points a live call at new TwiML (into the conference, back to the queue…). */
  async redirect(callSid: string, url: string) {
    await this.client.calls(callSid).update({ url, method: "POST" });
  }

  async hangup(callSid: string) {
    await this.client.calls(callSid).update({ status: "completed" });
  }

  /** Places a call (to an agent's softphone `client:…`, or a phone number); returns its CallSid. */
  async dial(input: { to: string; from: string; url: string; statusCallback: string; timeoutS?: number }) {
    const call = await this.client.calls.create({
      to: input.to,
      from: input.from,
      url: input.url,
      method: "POST",
      statusCallback: input.statusCallback,
      statusCallbackMethod: "POST",
      statusCallbackEvent: ["initiated", "ringing", "answered", "completed"],
      timeout: input.timeoutS ?? 20,
    });
    return call.sid;
  }

  async hold(conferenceSid: string, callSid: string, hold: boolean, holdUrl?: string) {
    await this.client
      .conferences(conferenceSid)
      .participants(callSid)
      .update({ hold, ...(hold && holdUrl ? { holdUrl, holdMethod: "GET" } : {}) });
  }

  async mute(conferenceSid: string, callSid: string, muted: boolean) {
    await this.client.conferences(conferenceSid).participants(callSid).update({ muted });
  }

  /** Switches a supervisor between listening (muted), whispering (coaching the agent) and barging in. */
  async monitorMode(
    conferenceSid: string,
    callSid: string,
    mode: "listen" | "whisper" | "barge",
    agentLegSid: string | null,
  ) {
    await this.client
      .conferences(conferenceSid)
      .participants(callSid)
      .update(
        mode === "listen"
          ? { muted: true, coaching: false }
          : mode === "whisper"
            ? { muted: false, coaching: true, callSidToCoach: agentLegSid ?? undefined }
            : { muted: false, coaching: false },
      );
  }

  async startRecording(callSid: string, callback: string) {
    const rec = await this.client
      .calls(callSid)
      .recordings.create({ recordingStatusCallback: callback, recordingStatusCallbackMethod: "POST" });
    return rec.sid;
  }

  /** The recording's audio (MP3), fetched with the account's credentials. */
  async fetchRecording(recordingSid: string) {
    const res = await (this.client as unknown as { httpClient: FetchClient }).httpClient.request({
      method: "get",
      uri: `https://api.twilio.com/2010-04-01/Accounts/${this.account.accountSid}/Recordings/${recordingSid}.mp3`,
      username: this.account.accountSid,
      password: this.account.authToken,
    });
    if (res.statusCode !== 200 || !(res.body instanceof Uint8Array))
      throw new Error(`Twilio answered ${res.statusCode} for recording ${recordingSid}`);
    return res.body;
  }

  /** Once stored (encrypted) with us, the copy at Twilio is deleted. */
  async deleteRecording(recordingSid: string) {
    await this.client.recordings(recordingSid).remove();
  }
}

/**
 * Whether the Twilio account holds `number` (IncomingPhoneNumbers filtered by PhoneNumber): the proof
 * that a workspace may answer calls to it. "unauthorized" when Twilio refuses the SID and token.
 */
export async function accountHoldsNumber(account: TwilioAccount, number: string): Promise<boolean | "unauthorized"> {
  const base = (account.apiBaseUrl ?? "https://api.twilio.com").replace(/\/$/, "");
  const sid = encodeURIComponent(account.accountSid);
  const url = `${base}/2010-04-01/Accounts/${sid}/IncomingPhoneNumbers.json?PhoneNumber=${encodeURIComponent(number)}`;
  const auth = `Basic ${btoa(`${account.accountSid}:${account.authToken}`)}`;
  const res = await fetch(url, { headers: { Authorization: auth }, signal: AbortSignal.timeout(15_000) });
  if (res.status === 401 || res.status === 403 || res.status === 404) return "unauthorized";
  if (!res.ok) throw new Error(`Twilio answered ${res.status}`);
  const page = (await res.json()) as { incoming_phone_numbers?: { phone_number?: string }[] };
  return (page.incoming_phone_numbers ?? []).some((n) => n.phone_number === number);
}
