import { dirname } from "node:path";
import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { websocket } from "hono/bun";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { isVisitorClaims } from "../../channels/webchat/index.ts";
import { MAX_ATTACHMENT_BYTES } from "../../conversations/attachment.ts";
import { canReadFile } from "../../conversations/actor.ts";
import { verifyFileLink } from "../../conversations/file-link.ts";
import { conversations, timelineItems } from "../../db/schema/index.ts";
import { errorBody, NotFound, TooLarge, Unauthorized } from "../../platform/errors.ts";
import { pathId } from "../../platform/validation.ts";
import { demoPage } from "../demo/page.ts";
import { twilioStandInRoutes } from "../demo/twilio-stand-in-routes.ts";
import { twilioMessagingStandIn } from "../demo/twilio-messaging-stand-in.ts";
import { apiChannelMessages } from "../gateway/api/messages.ts";
import { twilioVoiceWebhooks } from "../gateway/voice/webhooks.ts";
import { twilioMessagingWebhooks } from "../gateway/twilio-messaging/webhooks.ts";
import { slackEvents } from "../gateway/slack/events.ts";
import { wechatWebhooks } from "../gateway/wechat/webhooks.ts";
import { telegramWebhooks } from "../gateway/telegram/webhooks.ts";
import { SEALED_SUFFIX } from "../../conversations/attachment.ts";
import { openSealed } from "../../calls/recording.ts";
import { helpCenter } from "../gateway/help/help-center.ts";
import { csatPages } from "../gateway/csat/csat-pages.ts";
import { widgetApi } from "../gateway/webchat/widget.ts";
import { widgetSocket } from "../gateway/webchat/widget-socket.ts";
import { errorResponse, rejectNul } from "./http.ts";
import { inboxApi } from "../inbox/api.ts";
import { authenticate, tokenFrom } from "../inbox/auth.ts";
import { agentRealtime } from "../inbox/realtime.ts";
import { inboxWeb } from "./static.ts";
import type { Runtime } from "./runtime.ts";
import { clientIp, isLoopback } from "./client-ip.ts";
import { mayReadMetrics } from "../../platform/metrics.ts";

export type ServerEnv = { Bindings: { server: Bun.Server<unknown>; ip: string } };

const JSON_LIMIT = 1024 * 1024;

/** The whole HTTP surface of one node: gateway (widget, files), inbox API, realtime, health, metrics. */
export function createApp(rt: Runtime, options: { widgetLimits?: { burst?: number; perSecond?: number } } = {}) {
  const app = new Hono<ServerEnv>();

  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    // Route patterns, not raw paths, keep the label set bounded.
    const route = c.req.routePath || "unmatched";
    rt.metrics.httpDuration.observe(
      { method: c.req.method, route, status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  });

  // Uploads get the attachment limit (plus multipart overhead); everything else a JSON-sized one.
  const uploadLimit = bodyLimit({
    maxSize: MAX_ATTACHMENT_BYTES + 64 * 1024,
    onError: () => {
      throw new TooLarge("File is too large", "file");
    },
  });
  const jsonLimit = bodyLimit({
    maxSize: JSON_LIMIT,
    onError: () => {
      throw new TooLarge("Request body is too large");
    },
  });
  app.use("*", (c, next) => (c.req.path.endsWith("/attachments") ? uploadLimit : jsonLimit)(c, next));
  app.use("*", rejectNul);

  // The widget runs on customers' own sites: any origin may call the widget API. Visitors authenticate
  // with a bearer token, never cookies, so allowing every origin grants nothing extra.
  app.use(
    "/widget/v1/*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST"],
      allowHeaders: ["Authorization", "Content-Type"],
      exposeHeaders: ["Retry-After"],
      maxAge: 600,
    }),
  );

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/metrics", async (c) => {
    if (
      !mayReadMetrics(
        rt.config.metricsToken,
        c.req.header("authorization"),
        isLoopback(clientIp(rt.config.trustProxy, c)),
      )
    ) {
      const why = rt.config.metricsToken
        ? "Send Authorization: Bearer <METRICS_TOKEN>"
        : "Metrics are served to this machine only; set METRICS_TOKEN";
      return c.json(
        errorBody(rt.config.metricsToken ? "unauthorized" : "forbidden", why),
        rt.config.metricsToken ? 401 : 403,
      );
    }
    return c.text(await rt.metrics.registry.render(), 200, { "content-type": "text/plain; version=0.0.4" });
  });

  app.route("/", inboxWeb());
  // API-channel integrations post with their inbox token, not a session: before the agent API's sign-in gate.
  app.route("/api/v1", apiChannelMessages(rt));
  app.route("/api/v1", agentRealtime(rt));
  app.route("/api/v1", inboxApi(rt));
  app.route("/widget/v1", widgetSocket(rt));
  app.route("/widget/v1", widgetApi(rt, options.widgetLimits));
  app.route("/", twilioVoiceWebhooks(rt));
  app.route("/", twilioMessagingWebhooks(rt));
  app.route("/", wechatWebhooks(rt));
  app.route("/", telegramWebhooks(rt));
  app.route("/", slackEvents(rt));
  // Calls without a Twilio account, for trying the product: only where the demo was asked for.
  if (rt.config.demo) app.route("/", twilioStandInRoutes(rt));
  if (rt.config.demo) app.route("/", twilioMessagingStandIn(rt));
  app.route("/", helpCenter(rt));
  app.route("/", csatPages(rt));

  let widgetJs: Promise<string> | undefined;
  app.get("/widget.js", async (c) => {
    // Bundled on first request, then served from memory.
    widgetJs ??= import("../web/widget/build.ts").then((m) => m.buildWidget());
    return c.body(await widgetJs, 200, {
      "content-type": "application/javascript; charset=utf-8",
      "cache-control": "public, max-age=300",
      "access-control-allow-origin": "*",
    });
  });
  // Twilio's Voice SDK for widgets whose calls go through a phone line (apps/web/widget/phone-line.ts):
  // the package's own browser build, served from here so host pages load nothing from elsewhere.
  let voiceSdk: Promise<string> | undefined;
  app.get("/widget/voice-sdk.js", async (c) => {
    voiceSdk ??= Bun.file(
      `${dirname(Bun.resolveSync("@twilio/voice-sdk", import.meta.dir))}/../dist/twilio.min.js`,
    ).text();
    return c.body(await voiceSdk, 200, {
      "content-type": "application/javascript; charset=utf-8",
      "cache-control": "public, max-age=86400",
      "access-control-allow-origin": "*",
    });
  });
  // Only where the demo was asked for: on a real install the page would show a tenant's widget.
  app.get("/demo", (c) =>
    rt.config.demo ? demoPage(rt, c) : c.json(errorBody("not_found", "The demo page is off (SWITCHBOARD_DEMO=0)"), 404),
  );

  // Files: a user who may see what the file belongs to, or the visitor whose conversation it is in.
  app.get("/files/:id", async (c) => {
    const id = pathId(c.req.param("id"), "Attachment");
    // A signed link to this one file (conversations/file-link.ts): a provider fetching a reply's file.
    const link = c.req.query("link");
    const linked = link ? verifyFileLink(rt.keyring, link, id) : undefined;
    const token = linked ? "" : (tokenFrom(c.req) ?? "");
    const actor = linked ? undefined : await authenticate(rt.core.db, token);
    const visitor = actor || linked ? undefined : rt.keyring.verifyToken<unknown>(token);
    if (!linked && !actor && !isVisitorClaims(visitor)) throw new Unauthorized();
    const workspaceId = linked ?? actor?.workspaceId ?? (visitor as { w: string }).w;
    const { row, file } = await rt.files.open(rt.core.db, workspaceId, id);
    // The visibility rule: a conversation's file only for who may see that conversation.
    if (actor && !(await canReadFile(rt.core.db, actor, row))) throw new NotFound("Attachment");
    if (!actor && isVisitorClaims(visitor) && row.contactId !== visitor.c) {
      const [mine] = row.timelineItemId
        ? await rt.core.db
            .select({ id: timelineItems.id })
            .from(timelineItems)
            .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
            .where(
              and(
                eq(timelineItems.id, row.timelineItemId),
                eq(conversations.contactId, visitor.c),
                eq(timelineItems.type, "message"),
              ),
            )
        : [];
      if (!mine) throw new NotFound("Attachment");
    }
    // Call recordings are sealed at rest: decrypted only here, for a reader the checks above allowed.
    const body = row.storageKey.endsWith(SEALED_SUFFIX) ? await openSealed(rt, row.storageKey) : file;
    return new Response(body, {
      headers: {
        "content-type": row.contentType,
        // Never rendered inline as the site's own page: uploads are customer-controlled content.
        "content-disposition": `${row.contentType.startsWith("image/") ? "inline" : "attachment"}; filename*=UTF-8''${encodeURIComponent(row.name)}`,
        "x-content-type-options": "nosniff",
      },
    });
  });

  app.notFound((c) => c.json(errorBody("not_found", `No route for ${c.req.method} ${c.req.path}`), 404));
  app.onError(errorResponse);
  return app;
}

/** Starts Bun's server on the configured port (0 = any free port). */
export function serve(
  rt: Runtime,
  app: ReturnType<typeof createApp>,
  port = rt.config.port,
  hostname = rt.config.host,
) {
  const server: Bun.Server<unknown> = Bun.serve({
    port,
    hostname,
    fetch: (req, srv) => app.fetch(req, { server: srv, ip: srv.requestIP(req)?.address ?? "unknown" }),
    websocket,
  });
  rt.calls.setBaseUrl(`http://${hostname === "0.0.0.0" || hostname === "::" ? "localhost" : hostname}:${server.port}`);
  return server;
}
