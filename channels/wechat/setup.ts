import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import { isEncodingAesKey } from "./crypto.ts";

export const wechatModes = ["plaintext", "compatible", "safe"] as const;
export type WechatMode = (typeof wechatModes)[number];

/** An Official Account's AppID as WeChat's console shows it. */
const APP_ID = /^wx[0-9a-f]{16}$/;

/** What an admin types into Settings for an Official Account inbox (`POST /api/v1/inboxes`). */
export const WechatSetupInput = z.object({
  token: z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, "token must be 3 to 32 letters, digits, - or _"),
  appId: z.string().trim().regex(APP_ID, "appId must be wx followed by 16 hexadecimal digits"),
  appSecret: z.string().trim().min(1, "appSecret is required").max(128),
  encodingAesKey: z
    .string()
    .refine(isEncodingAesKey, "encodingAesKey must be 43 characters of base64 (A–Z, a–z, 0–9, + and /)"),
  mode: z.enum(wechatModes).default("compatible"),
});

/**
 * The inbox's settings (shown to admins) and credentials (sealed): the token signs every push, so it is
 * kept with the secrets.
 */
export function wechatInboxOf(input: z.output<typeof WechatSetupInput>) {
  return {
    settings: { appId: input.appId, mode: input.mode },
    credentials: { token: input.token, appSecret: input.appSecret, encodingAesKey: input.encodingAesKey },
  };
}

export type WechatSetup = { appId: string; mode: WechatMode; token: string; encodingAesKey: string };

/** A stored inbox's setup, for its webhook; an inbox missing a part cannot take pushes. */
export function wechatSetupOf(settings: Record<string, unknown>, credentials: Record<string, unknown>): WechatSetup {
  const { appId, mode } = settings;
  const { token, encodingAesKey } = credentials;
  if (typeof appId !== "string" || typeof token !== "string")
    throw new Invalid("This WeChat inbox has no AppID or token", "inboxId");
  const known = wechatModes.includes(mode as WechatMode) ? (mode as WechatMode) : "compatible";
  return { appId, mode: known, token, encodingAesKey: typeof encodingAesKey === "string" ? encodingAesKey : "" };
}
