import type { Context } from "hono";
import { InvalidPush, MAX_PUSH_BYTES, type PushVerdict } from "../../../channels/wechat/index.ts";
import { errorBody } from "../../../platform/errors.ts";

export const forbidden = (c: Context, message: string, field?: string) =>
  c.json(errorBody("forbidden", message, field), 403);

/** Why a push's signature check failed, in the error body's words and field. */
export function refusal(verdict: Exclude<PushVerdict, { ok: true }>): { message: string; field?: string } {
  switch (verdict.reason) {
    case "missing-parameter":
      return { message: `The push has no ${verdict.parameter}`, field: verdict.parameter };
    case "bad-signature":
      return { message: "Invalid WeChat signature", field: "signature" };
    case "malformed-timestamp":
      return { message: "timestamp is not a time in seconds", field: "timestamp" };
    case "timestamp-outside-window":
      return { message: "timestamp is outside the accepted window of 5 minutes", field: "timestamp" };
  }
}

/** A push's body, refused (413) past 64 KB: by its declared length before reading, then by what came. */
export async function pushBody(c: Context, what: "push" | "callback") {
  const tooLarge = () => new InvalidPush("too_large", `The ${what} is larger than 64 KB`);
  if (Number(c.req.header("content-length") ?? 0) > MAX_PUSH_BYTES) throw tooLarge();
  const body = await c.req.text();
  if (Buffer.byteLength(body, "utf8") > MAX_PUSH_BYTES) throw tooLarge();
  return body;
}
