import { describe, expect, it } from "bun:test";
import { wechatInboxOf, wechatKindOf, WechatSetupInput, wechatSetupOf, wecomSetupOf } from "./setup.ts";

const good = {
  token: "demo-wechat-token",
  appId: "wx0123456789abcdef",
  appSecret: "demo-wechat-secret",
  encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};

const refusedField = (input: Record<string, unknown>) => {
  const parsed = WechatSetupInput.safeParse(input);
  return parsed.success ? undefined : parsed.error.issues[0]!.path.join(".");
};

describe("an Official Account inbox's setup", () => {
  it("defaults to compatible mode and keeps the token, AppSecret and EncodingAESKey out of the settings", () => {
    const { settings, credentials } = wechatInboxOf(WechatSetupInput.parse(good));
    expect(settings).toEqual({
      kind: "official",
      appId: "wx0123456789abcdef",
      mode: "compatible",
      tokenApi: "stable_token",
    });
    expect(credentials).toEqual({
      token: good.token,
      appSecret: good.appSecret,
      encodingAesKey: good.encodingAesKey,
    });
  });

  it("keeps the older /cgi-bin/token when the admin chooses it", () => {
    expect(wechatInboxOf(WechatSetupInput.parse({ ...good, tokenApi: "token" })).settings.tokenApi).toBe("token");
  });

  it("names the field it refuses", () => {
    expect(refusedField({ ...good, appId: "wx0123456789ABCDEG" })).toBe("appId");
    expect(refusedField({ ...good, appId: "0123456789abcdef" })).toBe("appId");
    expect(refusedField({ ...good, encodingAesKey: `${good.encodingAesKey}=` })).toBe("encodingAesKey");
    expect(refusedField({ ...good, token: "x" })).toBe("token");
    expect(refusedField({ ...good, appSecret: "" })).toBe("appSecret");
    expect(refusedField({ ...good, mode: "aes" })).toBe("mode");
    expect(refusedField({ ...good, tokenApi: "cookie" })).toBe("tokenApi");
  });

  it("reads a stored inbox back for its webhook, an unknown mode as compatible", () => {
    expect(wechatSetupOf({ appId: good.appId, mode: "odd" }, good)).toEqual({
      appId: good.appId,
      mode: "compatible",
      token: good.token,
      encodingAesKey: good.encodingAesKey,
    });
    expect(() => wechatSetupOf({}, good)).toThrow("no AppID");
  });

  it("reads an inbox made before there were three kinds as an Official Account", () => {
    expect(wechatKindOf({ appId: good.appId })).toBe("official");
    expect(wechatKindOf({ kind: "wecom" })).toBe("wecom");
    expect(wechatKindOf({ kind: "nonsense" })).toBe("official");
  });
});

describe("a WeCom customer-service inbox's setup", () => {
  const wecom = {
    kind: "wecom",
    corpId: "ww0123456789abcdef",
    secret: "kf-secret",
    openKfid: "wkAbCdEf0123456789",
    token: "wecom-token",
    encodingAesKey: good.encodingAesKey,
  };

  it("keeps the secret, token and key sealed and the ids in the settings", () => {
    const { settings, credentials } = wechatInboxOf(WechatSetupInput.parse(wecom));
    expect(settings).toEqual({ kind: "wecom", corpId: wecom.corpId, openKfid: wecom.openKfid });
    expect(credentials).toEqual({ token: wecom.token, secret: wecom.secret, encodingAesKey: wecom.encodingAesKey });
    expect(wecomSetupOf(settings, credentials)).toEqual({
      corpId: wecom.corpId,
      openKfid: wecom.openKfid,
      token: wecom.token,
      secret: wecom.secret,
      encodingAesKey: wecom.encodingAesKey,
    });
  });

  it("names the field it refuses", () => {
    expect(refusedField({ ...wecom, corpId: "corp" })).toBe("corpId");
    expect(refusedField({ ...wecom, openKfid: "kf1" })).toBe("openKfid");
    expect(refusedField({ ...wecom, secret: "" })).toBe("secret");
    expect(refusedField({ ...wecom, kind: "weird" })).toBe("kind");
  });
});

describe("a Wechaty inbox's setup", () => {
  it("needs a puppet token for the service puppet, none for the mock", () => {
    expect(refusedField({ kind: "wechaty" })).toBe("puppetToken");
    const { settings, credentials } = wechatInboxOf(
      WechatSetupInput.parse({ kind: "wechaty", puppet: "wechaty-puppet-service", puppetToken: "puppet_abc" }),
    );
    expect(settings).toEqual({ kind: "wechaty", puppet: "wechaty-puppet-service" });
    expect(credentials).toEqual({ puppetToken: "puppet_abc" });
    expect(wechatInboxOf(WechatSetupInput.parse({ kind: "wechaty", puppet: "wechaty-puppet-mock" })).settings).toEqual({
      kind: "wechaty",
      puppet: "wechaty-puppet-mock",
    });
    expect(refusedField({ kind: "wechaty", puppet: "wechaty-puppet-padlocal" })).toBe("puppet");
  });
});
