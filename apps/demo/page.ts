import { and, asc, eq, isNotNull } from "drizzle-orm";
import type { Context } from "hono";
import { embedSnippet } from "../../channels/webchat/index.ts";
import { inboxes } from "../../db/schema/index.ts";
import { NotFound } from "../../platform/errors.ts";
import type { Runtime } from "../server/runtime.ts";

function escapeHtml(s: string) {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** `GET /demo[?key=…]`: a plain page with the chat widget on it, for trying the product at once. */
export async function demoPage(rt: Runtime, c: Context) {
  const key = c.req.query("key");
  const [inbox] = await rt.core.db
    .select({ publicKey: inboxes.publicKey, name: inboxes.name })
    .from(inboxes)
    .where(
      and(eq(inboxes.channel, "webchat"), isNotNull(inboxes.publicKey), key ? eq(inboxes.publicKey, key) : undefined),
    )
    .orderBy(asc(inboxes.createdAt))
    .limit(1);
  if (!inbox?.publicKey) throw new NotFound("Web chat inbox", "key");
  const k = escapeHtml(inbox.publicKey);
  return c.html(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(inbox.name)} — Switchboard demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2933}</style></head>
<body><h1>Switchboard demo shop</h1>
<p>This page embeds the chat widget of the inbox <b>${escapeHtml(inbox.name)}</b>. Click the bubble at the bottom right
and write; sign in to the agent API as <code>admin@demo.test</code> / <code>demo</code> to answer.</p>
<pre>${escapeHtml(embedSnippet(new URL(c.req.url).origin, inbox.publicKey))}</pre>
<h2>Call the demo hotline</h2>
<p>No Twilio account needed: the built-in simulator plays a caller who dials <b>+1 500-555-0006</b>
and says “我想退款” (I want a refund). Set yourself <i>Available</i> in the inbox and the call rings there.</p>
<button id="simulate-call" type="button">📞 Simulate a phone call</button>
<pre id="call-log" aria-live="polite"></pre>
<script>
document.getElementById("simulate-call").addEventListener("click", async () => {
  const out = document.getElementById("call-log");
  out.textContent = "Calling…";
  const res = await fetch("/simulator/calls", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ say: "我想退款", callerName: "Demo caller", talkSeconds: 20 }) });
  const call = await res.json();
  if (!res.ok) { out.textContent = call.error ? call.error.message : "The simulator is not available"; return; }
  const show = (c) => { out.textContent = c.heard.map((h) => "caller hears: " + h).concat(c.log.map((l) => "twilio: " + l)).join("\\n"); };
  show(call);
  const timer = setInterval(async () => {
    const c = await (await fetch("/simulator/calls/" + call.callSid)).json();
    show(c);
    if (c.status === "completed") clearInterval(timer);
  }, 1000);
});
</script>
<script src="/widget.js" data-inbox="${k}" async></script>
</body></html>`);
}
