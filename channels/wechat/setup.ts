import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import { isEncodingAesKey } from "./crypto.ts";
import { tokenApis } from "./token.ts";

/**
 * The three ways a business meets WeChat customers, each an inbox of channel "wechat":
 * - `official`: an Official Account (公众号) pushing to our webhook;
 * - `wecom`: WeCom customer service (微信客服), a callback then `sync_msg`;
 * - `wechaty`: a bot account through a Wechaty puppet, run by one node.
 */
export const wechatKinds = ["official", "wecom", "wechaty"] as const;
export type WechatKind = (typeof wechatKinds)[number];

export const wechatModes = ["plaintext", "compatible", "safe"] as const;
export type WechatMode = (typeof wechatModes)[number];

/** Puppets a Wechaty inbox may run: the service puppet (a token from a puppet provider), or the mock. */
export const wechatyPuppets = ["wechaty-puppet-service", "wechaty-puppet-mock"] as const;
export type WechatyPuppet = (typeof wechatyPuppets)[number];

/** An Official Account's AppID as WeChat's console shows it. */
const APP_ID = /^wx[0-9a-f]{16}$/;
/** A WeCom corp id (`ww…` or the older `wx…`), and a customer-service account's `open_kfid` (`wk…`). */
const CORP_ID = /^w[wx][0-9A-Za-z]{16}$/;
const OPEN_KFID = /^wk[0-9A-Za-z_-]{8,62}$/;

const Token = z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, "token must be 3 to 32 letters, digits, - or _");
const EncodingAesKey = z
  .string()
  .refine(isEncodingAesKey, "encodingAesKey must be 43 characters of base64 (A–Z, a–z, 0–9, + and /)");

const OfficialInput = z.object({
  kind: z.literal("official").default("official"),
  token: Token,
  appId: z.string().trim().regex(APP_ID, "appId must be wx followed by 16 hexadecimal digits"),
  appSecret: z.string().trim().min(1, "appSecret is required").max(128),
  encodingAesKey: EncodingAesKey,
  mode: z.enum(wechatModes).default("compatible"),
  /** Where access tokens come from: `stable_token` (shared by every caller) or the older `token`. */
  tokenApi: z.enum(tokenApis).default("stable_token"),
});

const WecomInput = z.object({
  kind: z.literal("wecom"),
  corpId: z.string().trim().regex(CORP_ID, "corpId must be the WeCom corp id (ww followed by 16 letters or digits)"),
  secret: z.string().trim().min(1, "secret is required").max(128),
  openKfid: z.string().trim().regex(OPEN_KFID, "openKfid must be a customer-service account id (wk…)"),
  token: Token,
  encodingAesKey: EncodingAesKey,
  /** The WeCom member WeChat shows as serving the chat once an agent takes it (service_state 3). */
  servicerUserId: z.string().trim().min(1).max(64).optional(),
});

const WechatyInput = z.object({
  kind: z.literal("wechaty"),
  puppet: z.enum(wechatyPuppets).default("wechaty-puppet-service"),
  puppetToken: z.string().trim().min(1).max(256).optional(),
});

/** What an admin types into Settings for a WeChat inbox (`POST /api/v1/inboxes`); `kind` defaults to official. */
export const WechatSetupInput = z.preprocess(
  (v) =>
    v && typeof v === "object" && !("kind" in v && (v as { kind?: unknown }).kind) ? { ...v, kind: "official" } : v,
  z.discriminatedUnion("kind", [OfficialInput, WecomInput, WechatyInput]).superRefine((v, ctx) => {
    if (v.kind === "wechaty" && v.puppet === "wechaty-puppet-service" && !v.puppetToken)
      ctx.addIssue({
        code: "custom",
        path: ["puppetToken"],
        message: "puppetToken is required for wechaty-puppet-service",
      });
  }),
);
export type WechatSetupInput = z.output<typeof WechatSetupInput>;

/**
 * The inbox's settings (shown to admins) and credentials (sealed): a webhook token signs every push, so
 * it is kept with the secrets.
 */
export function wechatInboxOf(input: WechatSetupInput): {
  settings: Record<string, unknown>;
  credentials: Record<string, unknown>;
} {
  switch (input.kind) {
    case "official":
      return {
        settings: { kind: "official", appId: input.appId, mode: input.mode, tokenApi: input.tokenApi },
        credentials: { token: input.token, appSecret: input.appSecret, encodingAesKey: input.encodingAesKey },
      };
    case "wecom":
      return {
        settings: {
          kind: "wecom",
          corpId: input.corpId,
          openKfid: input.openKfid,
          ...(input.servicerUserId ? { servicerUserId: input.servicerUserId } : {}),
        },
        credentials: { token: input.token, secret: input.secret, encodingAesKey: input.encodingAesKey },
      };
    case "wechaty":
      return {
        settings: { kind: "wechaty", puppet: input.puppet },
        credentials: input.puppetToken ? { puppetToken: input.puppetToken } : {},
      };
  }
}

/** Which of the three a stored WeChat inbox is; inboxes made before there were three are Official Accounts. */
export function wechatKindOf(settings: Record<string, unknown>): WechatKind {
  return wechatKinds.includes(settings.kind as WechatKind) ? (settings.kind as WechatKind) : "official";
}

export type WechatSetup = { appId: string; mode: WechatMode; token: string; encodingAesKey: string };

/** A stored Official Account inbox's setup, for its webhook; an inbox missing a part cannot take pushes. */
export function wechatSetupOf(settings: Record<string, unknown>, credentials: Record<string, unknown>): WechatSetup {
  const { appId, mode } = settings;
  const { token, encodingAesKey } = credentials;
  if (typeof appId !== "string" || typeof token !== "string")
    throw new Invalid("This WeChat inbox has no AppID or token", "inboxId");
  const known = wechatModes.includes(mode as WechatMode) ? (mode as WechatMode) : "compatible";
  return { appId, mode: known, token, encodingAesKey: typeof encodingAesKey === "string" ? encodingAesKey : "" };
}

export type WecomSetup = {
  corpId: string;
  openKfid: string;
  servicerUserId?: string;
  token: string;
  secret: string;
  encodingAesKey: string;
};

/** A stored WeCom customer-service inbox's setup, for its callback and its API calls. */
export function wecomSetupOf(settings: Record<string, unknown>, credentials: Record<string, unknown>): WecomSetup {
  const { corpId, openKfid, servicerUserId } = settings;
  const { token, secret, encodingAesKey } = credentials;
  if (
    typeof corpId !== "string" ||
    typeof openKfid !== "string" ||
    typeof token !== "string" ||
    typeof secret !== "string" ||
    typeof encodingAesKey !== "string"
  )
    throw new Invalid("This WeCom inbox is missing its corp id, open_kfid, secret, token or EncodingAESKey", "inboxId");
  return {
    corpId,
    openKfid,
    ...(typeof servicerUserId === "string" ? { servicerUserId } : {}),
    token,
    secret,
    encodingAesKey,
  };
}
