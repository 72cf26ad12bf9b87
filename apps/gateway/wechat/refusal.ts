import type { Context } from "hono";
import type { PushVerdict } from "../../../channels/wechat/index.ts";
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
