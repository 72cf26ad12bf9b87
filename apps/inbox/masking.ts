import { createMiddleware } from "hono/factory";
import { findPii, maskDeep, maskFor, maskPii, type PiiKind } from "../../platform/pii.ts";
import type { Actor } from "../../conversations/actor.ts";
import type { AuthEnv } from "./auth.ts";

// Only ID and card numbers (made of runs of digits) are masked in what the inbox shows: without two groups
// of four digits in a body there is nothing to look for, and the body goes out as it is.
const DIGITS = /\d{4}[ -]?\d{4}/;
const JSON_ESCAPE = /\\(?:u[0-9a-fA-F]{4}|.)/g;

/** A JSON text with every string inside it masked; the same text when nothing needed masking. */
export function maskJsonText(text: string, kinds: readonly PiiKind[]) {
  if (!kinds.length || !DIGITS.test(text)) return text;
  // The detectors run on the JSON text itself first, its escapes (\n before a number) read as a space:
  // digits, spaces and dashes are never escaped and a string's quotes bound a number as its own text does,
  // so nothing found there means nothing to mask inside it. Most frames carry long digit runs (seqs,
  // timestamps, provider ids) but no valid ID or card number, and skip the parse and re-serialization
  // that cost a busy socket most of its time.
  if (!findPii(text.replace(JSON_ESCAPE, " "), kinds).length) return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  const masked = maskDeep(value, kinds);
  return masked === value ? text : JSON.stringify(masked);
}

/** A realtime frame as this agent may see it (the same rule as the API's answers). */
export function maskFrame(actor: Actor, frame: string) {
  return maskJsonText(frame, maskFor(actor, "view"));
}

/** A text stream masked line by line: personal data never spans a line break, and nothing is held whole. */
function maskLines(body: ReadableStream<Uint8Array>, kinds: readonly PiiKind[]) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let rest = "";
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        const text = rest + decoder.decode(chunk, { stream: true });
        const cut = text.lastIndexOf("\n") + 1;
        rest = text.slice(cut);
        if (cut) out.enqueue(encoder.encode(maskPii(text.slice(0, cut), kinds)));
      },
      flush(out) {
        const last = rest + decoder.decode();
        if (last) out.enqueue(encoder.encode(maskPii(last, kinds)));
      },
    }),
  );
}

/**
 * The serialization edge of the agent API (docs/privacy.md): whatever a route answers, a user without
 * `pii` gets it masked — ID and card numbers in JSON (timelines, lists, search, contacts, tickets), and
 * phones and emails as well in CSV exports. One rule for every route, present and future, so no route
 * can forget it; stored data is never changed.
 */
export function maskPersonalData() {
  return createMiddleware<AuthEnv>(async (c, next) => {
    await next();
    const actor = c.get("actor");
    const res = c.res;
    if (!actor || !res.body) return;
    const type = res.headers.get("content-type") ?? "";
    const csv = type.startsWith("text/csv");
    if (!csv && !type.startsWith("application/json")) return;
    const kinds = maskFor(actor, csv ? "export" : "view");
    if (!kinds.length) return;
    const body = csv ? maskLines(res.body, kinds) : maskJsonText(await res.text(), kinds);
    const headers = new Headers(res.headers);
    headers.delete("content-length");
    // Replaced outright (not through c.res's merge), so no stale content-length survives.
    c.res = undefined;
    c.res = new Response(body, { status: res.status, statusText: res.statusText, headers });
  });
}
