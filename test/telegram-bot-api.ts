import { and, asc, eq, inArray, like } from "drizzle-orm";
import type { Update } from "grammy/types";
import type { Executor } from "../db/connect.ts";
import { conversations, timelineItems } from "../db/schema/index.ts";

/**
 * A local stand-in for Telegram's Bot API (same paths: `/bot<token>/<method>`, `/file/bot<token>/<path>`)
 * that records every call, for tests. Files customers "sent" are registered with `addFile`; chats in
 * `blocked` answer 403 as a bot the user blocked, `unknownChats` 400 "chat not found", and `rateLimited`
 * makes the next sends answer 429 with retry_after; `failDownloads` makes the next file downloads answer 500.
 */
export type BotApiCall = {
  method: string;
  token: string;
  /** JSON body, or a multipart form's fields (files as {name, type, size, bytes}). */
  body: Record<string, any>;
  contentType: string;
  /** When it came (ms since the epoch). */
  at: number;
};

export function startBotApiStandIn() {
  const calls: BotApiCall[] = [];
  const downloads: string[] = [];
  const files = new Map<string, { path: string; bytes: Uint8Array }>();
  const blocked = new Set<string>();
  const unknownChats = new Set<string>();
  const state = {
    refuseWebhook: false,
    failDownloads: 0,
    rateLimited: 0,
    retryAfter: 1,
    validTokens: new Set<string>(),
    nextMessageId: 1000,
  };
  const fail = (code: number, description: string, extra: object = {}) =>
    Response.json({ ok: false, error_code: code, description, ...extra }, { status: code });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file) {
        downloads.push(file[2]!);
        if (state.failDownloads > 0) {
          state.failDownloads--;
          return new Response("Internal Server Error", { status: 500 });
        }
        const found = [...files.values()].find((f) => f.path === file[2]);
        return found ? new Response(found.bytes.slice()) : new Response("Not Found", { status: 404 });
      }
      const call = /^\/bot([^/]+)\/(\w+)$/.exec(url.pathname);
      if (!call) return new Response("Not Found", { status: 404 });
      const [, token, method] = call as unknown as [string, string, string];
      const contentType = req.headers.get("content-type") ?? "";
      let body: Record<string, any> = {};
      if (contentType.includes("multipart/form-data")) {
        for (const [key, value] of (await req.formData()).entries()) {
          const upload = value as unknown as File | string;
          body[key] =
            typeof upload === "string"
              ? upload
              : {
                  name: upload.name,
                  type: upload.type,
                  size: upload.size,
                  bytes: new Uint8Array(await upload.arrayBuffer()),
                };
        }
      } else if (contentType.includes("json")) body = (await req.json()) as Record<string, any>;
      calls.push({ method: method!, token: token!, body, contentType, at: Date.now() });
      if (state.validTokens.size && !state.validTokens.has(token!)) return fail(401, "Unauthorized");
      const chat = body.chat_id === undefined ? undefined : String(body.chat_id);
      if (method.startsWith("send")) {
        if (state.rateLimited > 0) {
          state.rateLimited--;
          return fail(429, `Too Many Requests: retry after ${state.retryAfter}`, {
            parameters: { retry_after: state.retryAfter },
          });
        }
        if (chat && blocked.has(chat)) return fail(403, "Forbidden: bot was blocked by the user");
        if (chat && unknownChats.has(chat)) return fail(400, "Bad Request: chat not found");
      }
      switch (method) {
        case "getMe":
          return Response.json({
            ok: true,
            result: {
              id: Number(token!.split(":")[0]),
              is_bot: true,
              first_name: "Support",
              username: "acme_support_bot",
            },
          });
        case "setWebhook":
          // As Telegram answers a URL it will not call (`refuseWebhook`: as if it were plain http).
          if (state.refuseWebhook)
            return fail(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
          return Response.json({ ok: true, result: true, description: "Webhook was set" });
        case "getFile": {
          const found = files.get(String(body.file_id));
          if (!found) return fail(400, "Bad Request: invalid file_id");
          return Response.json({
            ok: true,
            result: {
              file_id: body.file_id,
              file_unique_id: `u${body.file_id}`,
              file_size: found.bytes.length,
              file_path: found.path,
            },
          });
        }
        default:
          return Response.json({
            ok: true,
            result: {
              message_id: state.nextMessageId++,
              date: Math.floor(Date.now() / 1000),
              chat: { id: Number(chat), type: "private" },
            },
          });
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    calls,
    downloads,
    blocked,
    unknownChats,
    state,
    /** A file a customer "sent": getFile names `path`, the download gives `bytes`. */
    addFile(fileId: string, path: string, bytes: Uint8Array) {
      files.set(fileId, { path, bytes });
    },
    callsOf: (method: string) => calls.filter((c) => c.method === method),
    stop: () => server.stop(true),
  };
}

/**
 * Telegram customers for tests: each `newUser` a fresh Telegram account, each `update` the next update
 * of their private chat, typed as grammY types Telegram's.
 */
export function telegramCustomers() {
  let nextUpdate = 1;
  let nextMessage = 1;
  let nextUser = 5_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const newUser = (language_code = "en") => ({
    id: nextUser++,
    is_bot: false,
    first_name: "Ada",
    last_name: "Lovelace",
    username: `ada${nextUser}`,
    language_code,
  });
  const update = (user: ReturnType<typeof newUser>, content: Record<string, unknown>, edited = false): Update => {
    const message = {
      message_id: nextMessage++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: user.id, type: "private" as const, first_name: user.first_name },
      from: user,
      ...content,
    };
    return (edited
      ? { update_id: nextUpdate++, edited_message: { ...message, edit_date: message.date + 5 } }
      : { update_id: nextUpdate++, message }) as unknown as Update;
  };
  return { newUser, update };
}

/** Posts an update as Telegram does: JSON, with the secret header unless `secret` is null. */
export const postUpdate = (url: string, inboxId: string, body: unknown, secret: string | null) =>
  fetch(`${url}/webhooks/telegram/${inboxId}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(secret === null ? {} : { "X-Telegram-Bot-Api-Secret-Token": secret }),
    },
    body: JSON.stringify(body),
  });

/** Every item of the conversations a Telegram user's messages went to, in timeline order. */
export async function telegramItemsOf(db: Executor, userId: number) {
  const theirs = await db
    .selectDistinct({ id: timelineItems.conversationId })
    .from(timelineItems)
    .where(and(eq(timelineItems.direction, "in"), like(timelineItems.externalId, `${userId}:%`)));
  if (!theirs.length) return [];
  const rows = await db
    .select()
    .from(timelineItems)
    .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
    .where(
      inArray(
        timelineItems.conversationId,
        theirs.map((c) => c.id),
      ),
    )
    .orderBy(asc(timelineItems.seq));
  return rows.map((r) => ({ ...r.timeline_items, conversation: r.conversations }));
}
