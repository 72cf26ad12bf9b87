import { Hono } from "hono";
import { buildInbox, type WebAsset } from "../web/inbox/build.ts";

// One build per process, shared by every server in it (tests start many).
let assets: Promise<Map<string, WebAsset>> | undefined;
const bundle = () => (assets ??= buildInbox().catch((err) => ((assets = undefined), Promise.reject(err))));

/** The agent inbox web app under /app: index.html for the page, hashed file names cached forever. */
export function inboxWeb() {
  const app = new Hono();
  app.get("/", (c) => c.redirect("/app/"));
  app.get("/app", (c) => c.redirect("/app/"));
  app.get("/app/*", async (c) => {
    const files = await bundle();
    const name = c.req.path.slice("/app/".length) || "index.html";
    const file = files.get(name);
    if (!file) return c.json({ error: { code: "not_found", message: `No file ${name}` } }, 404);
    const page = name === "index.html";
    return c.body(file.body, 200, {
      "content-type": file.type,
      "cache-control": page ? "no-cache" : "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      ...(page ? { "content-security-policy": CSP, "referrer-policy": "same-origin", "x-frame-options": "DENY" } : {}),
    });
  });
  return app;
}

/**
 * The page runs only its own bundle: no inline script, no third-party origin. Images and audio may be
 * blob: URLs (attachments are fetched with the agent's token and shown from memory).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");
