import { createInbox } from "../conversations/inbox.ts";
import { ivrFlows } from "../db/schema/index.ts";
import { exampleFlow } from "../channels/voice/example-flow.ts";
import type { IvrFlow } from "../channels/voice/flow.ts";
import { fakeSid, TwilioStandIn } from "../apps/demo/twilio-stand-in.ts";
import { createQueue } from "../routing/queue.ts";
import { setAgentSkill } from "../routing/agent.ts";
import type { TestServer } from "./server.ts";

/**
 * A voice inbox in the test server's workspace with its own Twilio account, whose REST API is the
 * Twilio stand-in (recording every request) on a loopback port, and the demo IVR flow.
 */
export async function startVoice(
  s: TestServer,
  options: {
    recording?: "always" | "on_demand" | "never";
    flow?: (q: { refunds: string; general: string }) => IvrFlow;
    retentionDays?: number;
    apiKey?: boolean;
  } = {},
) {
  const accountSid = fakeSid("AC");
  const authToken = `token-${crypto.randomUUID()}`;
  const apiKeySecret = `secret-${crypto.randomUUID()}`;
  const sim = new TwilioStandIn({ gatewayUrl: s.url, authToken, accountSid });
  const rest = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => sim.rest(req) });
  const number = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
  const db = s.rt.core.db;
  const inbox = await createInbox(db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "voice",
    name: "Phone",
    settings: {
      phoneNumber: number,
      apiBaseUrl: `http://127.0.0.1:${rest.port}`,
      recording: options.recording ?? "on_demand",
      ...(options.retentionDays ? { recordingRetentionDays: options.retentionDays } : {}),
    },
    // An API key and a TwiML app make the line able to mint Voice SDK tokens (widget calls).
    credentials: {
      accountSid,
      authToken,
      ...(options.apiKey ? { apiKeySid: fakeSid("SK"), apiKeySecret: apiKeySecret, twimlAppSid: fakeSid("AP") } : {}),
    },
  });
  await setAgentSkill(db, s.workspaceId, s.agent.id, "billing", 3);
  const refunds = await createQueue(db, s.workspaceId, {
    name: `Refunds ${number}`,
    channels: ["voice"],
    requiredSkills: [{ skill: "billing", minLevel: 2 }],
  });
  const general = await createQueue(db, s.workspaceId, { name: `General ${number}`, channels: ["voice"] });
  const queues = { refunds: refunds.id, general: general.id };
  await db
    .insert(ivrFlows)
    .values({ inboxId: inbox.id, workspaceId: s.workspaceId, flow: (options.flow ?? exampleFlow)(queues) });
  return {
    sim,
    inbox,
    number,
    queues,
    authToken,
    accountSid,
    apiKeySecret,
    restUrl: `http://127.0.0.1:${rest.port}`,
    stop: () => rest.stop(true),
  };
}

/** Polls until `check` returns something truthy (webhooks and routing run asynchronously). */
export async function until<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 8000,
  what = "condition",
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/**
 * Twilio's number list (`IncomingPhoneNumbers.json?PhoneNumber=`), which a new phone line is checked
 * against before its number routes calls: a local stand-in where an account holds a number when
 * `holds` says so (every number by default). Point `TWILIO_API_BASE_URL` at it.
 */
export function startTwilioNumberList(holds: (accountSid: string, number: string) => boolean = () => true) {
  return Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      const sid = /\/Accounts\/([^/]+)\//.exec(url.pathname)?.[1] ?? "";
      const number = url.searchParams.get("PhoneNumber") ?? "";
      return Response.json({ incoming_phone_numbers: holds(sid, number) ? [{ phone_number: number }] : [] });
    },
  });
}
