import {
  PermanentSendError,
  type ChannelAdapter,
  type OutboundMessage,
  type SendResult,
} from "../../conversations/channel.ts";
import { sendWechat, type WechatSendOptions } from "./send.ts";
import { wechatKindOf } from "./setup.ts";
import { createAccessTokens, type AccessTokens, type SharedTokenStore } from "./token.ts";
import { sendWecom, type WecomApiOptions } from "./wecom-api.ts";

export type WechatAdapterOptions = {
  /** WeChat's Official Account API, or a local stand-in with the same paths (`WECHAT_API_BASE`). */
  apiBase?: string;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch, for the access tokens' expiry (tests pass their own clock). */
  now?: () => number;
  /** Access tokens shared by the nodes (conversations/access-token-store.ts); without it, per node. */
  tokenStore?: SharedTokenStore;
  /** The bytes of a reply's attachment, for image replies (the runtime reads its file store). */
  readFile?: WechatSendOptions["readFile"];
  /** WeCom's API and its token cache (`WECOM_API_BASE`), for inboxes of kind `wecom` (`kf/send_msg`). */
  wecomApi?: WecomApiOptions;
  /** Sends through the inbox's running Wechaty bot; inboxes of kind `wechaty`. */
  wechaty?: (outbound: OutboundMessage) => Promise<SendResult>;
};

export const WECHAT_API_BASE = "https://api.weixin.qq.com";

/**
 * The WeChat adapter the outbox sends through: an Official Account reply here, WeCom and Wechaty
 * replies through the senders the runtime gives (they need a token store and a running bot). Access
 * tokens are cached per adapter, so the runtime makes one adapter and keeps it.
 */
/** The adapter, with its API base and token cache for the gateway's own calls (media, follower profiles). */
export type WechatAdapter = ChannelAdapter & {
  apiBase: string;
  fetch?: typeof fetch;
  tokens: AccessTokens;
  /** WeCom's API, for the gateway's calls of WeCom inboxes (media, customers' profiles). */
  wecomApi?: WecomApiOptions;
};

export function createWechatAdapter(options: WechatAdapterOptions = {}): WechatAdapter {
  const apiBase = options.apiBase ?? WECHAT_API_BASE;
  const tokens = createAccessTokens({
    apiBase,
    fetch: options.fetch,
    now: options.now,
    store: options.tokenStore,
  });
  return {
    channel: "wechat",
    apiBase,
    fetch: options.fetch,
    tokens,
    wecomApi: options.wecomApi,
    // Files after the text (media/upload, then a message naming it): images on an Official Account; images,
    // videos and other files through WeCom. WeChat's typing indicator (`custom/typing`) is not sent.
    capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    send: (outbound) => {
      const kind = wechatKindOf(outbound.inbox.settings);
      if (kind === "official")
        return sendWechat(outbound, { apiBase, fetch: options.fetch, tokens, readFile: options.readFile });
      if (kind === "wecom" && options.wecomApi)
        return sendWecom(outbound, { ...options.wecomApi, readFile: options.readFile });
      const sender = kind === "wechaty" ? options.wechaty : undefined;
      if (!sender) throw new PermanentSendError(`This server cannot send through WeChat inboxes of kind ${kind}`);
      return sender(outbound);
    },
  };
}

export { sendWechat, wechatAppOf, type WechatSendOptions } from "./send.ts";
export {
  createAccessTokens,
  createTokenCache,
  createWecomTokens,
  EXPIRY_MARGIN_MS,
  tokenApis,
  type AccessTokens,
  type SharedTokenStore,
  type StoredToken,
  type TokenApi,
  type TokenCache,
  type TokenSource,
  type WechatApp,
  type WecomApp,
  type WecomTokens,
} from "./token.ts";
export { verifyPush, plainSignature, messageSignature, type PushToVerify, type PushVerdict } from "./verify.ts";
export { decryptMessage, encryptMessage, isEncodingAesKey, WechatDecryptError } from "./crypto.ts";
export {
  encryptedOf,
  parsePushXml,
  toInbound,
  InvalidPush,
  MAX_PUSH_BYTES,
  type InboundPush,
  type PushFields,
} from "./parse.ts";
