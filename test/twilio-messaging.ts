import twilio from "twilio";
import type { TestServer } from "./server.ts";

/**
 * A local stand-in for Twilio's REST API as the SMS/WhatsApp channel uses it (number check, Messages,
 * media behind a redirect to a separate file host), recording every request; and webhooks signed the
 * way Twilio signs them, with the twilio package's own function.
 */
export type Recorded = {
  method: string;
  path: string;
  query: URLSearchParams;
  auth: string | null;
  form: Record<string, string>;
};

const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n / 2)), (b) => b.toString(16).padStart(2, "0")).join("");
export const newSid = (prefix: string) => prefix + hex(32);
/** A random North American test number, so test files sharing a database never claim the same key. */
export const newNumber = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;

export const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

export function startTwilioStandIn() {
  const accounts = new Map<string, { token: string; numbers: string[] }>();
  const requests: Recorded[] = [];
  const fileRequests: { path: string; auth: string | null }[] = [];
  /**
   * The next answers to Messages.json, in order (then 201 with a new SID). `callbackFirst`: a signed
   * status callback with that status is posted before the answer, as Twilio may do.
   */
  const answers: { status: number; body: unknown; callbackFirst?: string }[] = [];

  // Twilio's media store: another origin, reached by redirect, without the account's credentials.
  const files = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      fileRequests.push({ path: url.pathname, auth: req.headers.get("authorization") });
      return new Response(PNG, { headers: { "content-type": "image/png" } });
    },
  });

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const form = req.method === "POST" ? Object.fromEntries(new URLSearchParams(await req.text())) : {};
      const auth = req.headers.get("authorization");
      requests.push({ method: req.method, path: url.pathname, query: url.searchParams, auth, form });
      const m = url.pathname.match(/^\/2010-04-01\/Accounts\/([^/]+)\/(.+)$/);
      const account = m ? accounts.get(m[1]!) : undefined;
      if (!m || !account || auth !== `Basic ${btoa(`${m[1]}:${account.token}`)}`)
        return Response.json({ code: 20003, message: "Authenticate", status: 401 }, { status: 401 });
      const rest = m[2]!;
      if (req.method === "GET" && rest === "IncomingPhoneNumbers.json") {
        const wanted = url.searchParams.get("PhoneNumber");
        return Response.json({
          incoming_phone_numbers: account.numbers.filter((n) => n === wanted).map((n) => ({ phone_number: n })),
        });
      }
      if (req.method === "POST" && rest === "Messages.json") {
        const answer = answers.shift();
        if (answer?.callbackFirst) {
          const sid = newSid("SM");
          const params = {
            MessageSid: sid,
            AccountSid: m[1]!,
            From: form.From!,
            To: form.To!,
            MessageStatus: answer.callbackFirst,
          };
          void fetch(form.StatusCallback!, {
            method: "POST",
            headers: {
              "x-twilio-signature": twilio.getExpectedTwilioSignature(account.token, form.StatusCallback!, params),
            },
            body: new URLSearchParams(params),
          });
          // The callback is on its way before the send's answer.
          await Bun.sleep(100);
          return Response.json({ sid, status: "queued" }, { status: 201 });
        }
        if (answer) return Response.json(answer.body, { status: answer.status });
        return Response.json({ sid: newSid("SM"), status: "queued" }, { status: 201 });
      }
      if (req.method === "GET" && /^Messages\/MM\w+\/Media\/ME\w+$/.test(rest))
        return new Response(null, {
          status: 307,
          headers: { location: `http://127.0.0.1:${files.port}/media/${rest.split("/").pop()}` },
        });
      return Response.json({ code: 20404, message: "Not found", status: 404 }, { status: 404 });
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    base,
    requests,
    fileRequests,
    answers,
    /** An account the stand-in knows, holding these numbers. */
    account(numbers: string[] = [newNumber()]) {
      const sid = newSid("AC");
      const token = hex(32);
      accounts.set(sid, { token, numbers });
      return { sid, token, numbers };
    },
    messagesSent: (accountSid: string) =>
      requests.filter((r) => r.method === "POST" && r.path === `/2010-04-01/Accounts/${accountSid}/Messages.json`),
    mediaUrl: (accountSid: string) =>
      `${base}/2010-04-01/Accounts/${accountSid}/Messages/${newSid("MM")}/Media/${newSid("ME")}`,
    stop() {
      server.stop(true);
      files.stop(true);
    },
  };
}

/** POSTs a webhook to the test server, signed with `token` as Twilio signs it. */
export async function postSigned(s: TestServer, path: string, params: Record<string, string>, token: string) {
  const url = `${s.url}${path}`;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": twilio.getExpectedTwilioSignature(token, url, params),
    },
    body: new URLSearchParams(params),
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}
