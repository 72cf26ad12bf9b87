import { describe, expect, it } from "bun:test";
import { wechatInboxOf, WechatSetupInput, wechatSetupOf } from "./setup.ts";

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
    expect(settings).toEqual({ appId: "wx0123456789abcdef", mode: "compatible" });
    expect(credentials).toEqual({
      token: good.token,
      appSecret: good.appSecret,
      encodingAesKey: good.encodingAesKey,
    });
  });

  it("names the field it refuses", () => {
    expect(refusedField({ ...good, appId: "wx0123456789ABCDEG" })).toBe("appId");
    expect(refusedField({ ...good, appId: "0123456789abcdef" })).toBe("appId");
    expect(refusedField({ ...good, encodingAesKey: `${good.encodingAesKey}=` })).toBe("encodingAesKey");
    expect(refusedField({ ...good, token: "x" })).toBe("token");
    expect(refusedField({ ...good, appSecret: "" })).toBe("appSecret");
    expect(refusedField({ ...good, mode: "aes" })).toBe("mode");
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
});
