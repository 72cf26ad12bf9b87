import { expect } from "bun:test";
import { and, eq } from "drizzle-orm";
import { slackSignature } from "../channels/slack/index.ts";
import { timelineItems } from "../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "./server.ts";

/** What the Slack stand-in was asked: the Web API method, the bearer token, the arguments. */
export type SlackCall = { method: string; auth: string | null; body: Record<string, any> };

export const SLACK_FILE_BYTES = new TextEncoder().encode("%PDF-1.4 stand-in invoice");
export const SLACK_TEST_SECRET = "test-slack-signing-secret-0123";

/**
 * A test server and a recorded stand-in for Slack (Web API, file host, upload URL), with helpers to
 * create Slack inboxes through the admin API and to deliver events signed exactly as Slack signs them.
 * The stand-in's `auth.test` answers the team named in the token (`xoxb-<team>[-…]`) and bot `U0BOT`;
 * files under `/files/` are served to tokens ending in `-files` only, `/slow-files/` to anyone after 300 ms.
 */
export async function startSlackWorld() {
  const state = { calls: [] as SlackCall[], postError: undefined as string | undefined, fileRequests: 0 };
  const slack: ReturnType<typeof Bun.serve> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req): Promise<Response> {
      const url = new URL(req.url);
      const auth = req.headers.get("authorization");
      if (url.pathname.startsWith("/slow-files/")) {
        state.fileRequests++;
        await Bun.sleep(300);
        return new Response(SLACK_FILE_BYTES, { headers: { "content-type": "application/pdf" } });
      }
      if (url.pathname.startsWith("/files/")) {
        if (!auth?.endsWith("-files")) return new Response("no", { status: 403 });
        return new Response(SLACK_FILE_BYTES, { headers: { "content-type": "application/pdf" } });
      }
      if (url.pathname === "/upload") {
        state.calls.push({ method: "upload", auth, body: { size: (await req.arrayBuffer()).byteLength } });
        return new Response("OK");
      }
      const method = url.pathname.replace("/api/", "");
      const text = await req.text();
      const body = (req.headers.get("content-type") ?? "").includes("json")
        ? JSON.parse(text || "{}")
        : Object.fromEntries(new URLSearchParams(text));
      state.calls.push({ method, auth, body });
      const team = auth?.replace("Bearer xoxb-", "") ?? "";
      if (method === "auth.test") return Response.json({ ok: true, team_id: team.split("-")[0], user_id: "U0BOT" });
      if (method === "users.info") return Response.json({ ok: true, user: { profile: { display_name: "Carol" } } });
      if (method === "files.getUploadURLExternal")
        return Response.json({ ok: true, upload_url: `http://127.0.0.1:${slack.port}/upload`, file_id: "F0UP" });
      if (method === "files.completeUploadExternal") return Response.json({ ok: true, files: [{ id: "F0UP" }] });
      if (method === "chat.postMessage") {
        if (state.postError) return Response.json({ ok: false, error: state.postError });
        return Response.json({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` });
      }
      return Response.json({ ok: false, error: "unknown_method" });
    },
  });
  const s: TestServer = await startTestServer();
  const admin = await s.signInAs("admin");
  const slackUrl = `http://127.0.0.1:${slack.port}`;
  let tsCounter = Math.floor(Date.now() / 1000) - 30;

  const randomTeam = () => `T${crypto.randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase()}`;

  return {
    s,
    admin,
    slackUrl,
    state,
    randomTeam,
    /** A Slack message's ts, later each time and within the last minute. */
    nextTs: () => `${++tsCounter}.000100`,

    async slackInbox(extra: Record<string, unknown> = {}, token?: (team: string) => string) {
      const teamId = randomTeam();
      const res = await api(`${s.url}/api/v1/inboxes`, {
        token: admin,
        body: {
          name: `Slack ${teamId}`,
          channel: "slack",
          teamId,
          botToken: token ? token(teamId) : `xoxb-${teamId}`,
          signingSecret: SLACK_TEST_SECRET,
          botUserId: "U0BOT",
          apiBaseUrl: slackUrl,
          ...extra,
        },
      });
      expect(res.status).toBe(201);
      return { id: res.body.id as string, teamId, listed: res.body };
    },

    /** POSTs an Events API body signed exactly as Slack signs it. */
    deliver(body: unknown, opts: { secret?: string; timestamp?: number; headers?: Record<string, string> } = {}) {
      const raw = JSON.stringify(body);
      const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
      return api(`${s.url}/webhooks/slack/events`, {
        body: raw,
        headers: {
          "x-slack-request-timestamp": ts,
          "x-slack-signature": slackSignature(opts.secret ?? SLACK_TEST_SECRET, ts, raw),
          ...opts.headers,
        },
      });
    },

    messageEvent(teamId: string, event: Record<string, unknown>) {
      return {
        type: "event_callback",
        team_id: teamId,
        event_id: `Ev${crypto.randomUUID().slice(0, 8)}`,
        event: { type: "message", channel: "C0SHARED1", channel_type: "channel", user: "U0CUST", ...event },
      };
    },

    /** The timeline item stored for a Slack message, if any. */
    async stored(inboxId: string, externalId: string) {
      const [row] = await s.rt.core.db
        .select()
        .from(timelineItems)
        .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, externalId)));
      return row;
    },

    async stop() {
      await s.stop();
      slack.stop(true);
    },
  };
}
