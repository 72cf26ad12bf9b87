import { describe, expect, it } from "bun:test";
import * as wecom from "@wecom/crypto";
import { InvalidPush } from "./parse.ts";
import { verifyWecomCallback, wecomCallbackOf, wecomUrlCheck } from "./wecom-callback.ts";

const setup = {
  corpId: "ww0123456789abcdef",
  token: "wecomToken1",
  encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
};
const now = 1_700_000_000_000;
const ts = String(now / 1000);

const callbackXml = (
  token = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
  kfid = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
) =>
  `<xml><ToUserName><![CDATA[${setup.corpId}]]></ToUserName><CreateTime>1348831860</CreateTime>` +
  `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>` +
  `<Token><![CDATA[${token}]]></Token><OpenKfId><![CDATA[${kfid}]]></OpenKfId></xml>`;

/** A callback as WeCom sends it, encrypted and signed with @wecom/crypto. */
function signedCallback(xml: string, corpId = setup.corpId) {
  const encrypt = wecom.encrypt(setup.encodingAesKey, xml, corpId);
  const query = { msg_signature: wecom.getSignature(setup.token, ts, "n1", encrypt), timestamp: ts, nonce: "n1" };
  const body =
    `<xml><ToUserName><![CDATA[${setup.corpId}]]></ToUserName><AgentID><![CDATA[]]></AgentID>` +
    `<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
  return { query, body };
}

describe("WeCom's URL check", () => {
  it("answers the plaintext of the encrypted echostr when the signature holds", () => {
    const echostr = wecom.encrypt(setup.encodingAesKey, "1616140317555161061", setup.corpId);
    const msg_signature = wecom.getSignature(setup.token, ts, "abc", echostr);
    expect(wecomUrlCheck(setup, { msg_signature, timestamp: ts, nonce: "abc", echostr }, now)).toEqual({
      ok: true,
      echo: "1616140317555161061",
    });
  });

  it("refuses a forged signature, a stale timestamp and a missing echostr", () => {
    const echostr = wecom.encrypt(setup.encodingAesKey, "x", setup.corpId);
    const forged = wecom.getSignature("other", ts, "abc", echostr);
    expect(wecomUrlCheck(setup, { msg_signature: forged, timestamp: ts, nonce: "abc", echostr }, now)).toMatchObject({
      ok: false,
      reason: "bad-signature",
    });
    const old = String(now / 1000 - 3600);
    const signedOld = wecom.getSignature(setup.token, old, "abc", echostr);
    expect(
      wecomUrlCheck(setup, { msg_signature: signedOld, timestamp: old, nonce: "abc", echostr }, now),
    ).toMatchObject({
      ok: false,
      reason: "timestamp-outside-window",
    });
    expect(wecomUrlCheck(setup, { msg_signature: forged, timestamp: ts, nonce: "abc" }, now)).toMatchObject({
      ok: false,
    });
  });

  it("refuses an echostr encrypted for another corp", () => {
    const echostr = wecom.encrypt(setup.encodingAesKey, "x", "wwffffffffffffffff");
    const msg_signature = wecom.getSignature(setup.token, ts, "abc", echostr);
    expect(() => wecomUrlCheck(setup, { msg_signature, timestamp: ts, nonce: "abc", echostr }, now)).toThrow(
      /another app/,
    );
  });
});

describe("a WeCom callback", () => {
  it("is verified over its Encrypt element and read as kf_msg_or_event with Token and OpenKfId", () => {
    const { query, body } = signedCallback(callbackXml());
    const verdict = verifyWecomCallback(setup, query, body, now);
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(wecomCallbackOf(setup, verdict.encrypt)).toEqual({
      kind: "kf_msg_or_event",
      token: "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
      openKfid: "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
      createTime: "1348831860",
    });
  });

  it("is refused when the ciphertext was swapped (the signature covers it)", () => {
    const { query } = signedCallback(callbackXml());
    const other = signedCallback(callbackXml("OTHER")).body;
    expect(verifyWecomCallback(setup, query, other, now)).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("refuses a payload for another corp and one without a Token", () => {
    const foreign = signedCallback(callbackXml(), "wwffffffffffffffff");
    const v = verifyWecomCallback(setup, foreign.query, foreign.body, now);
    expect(v.ok && (() => wecomCallbackOf(setup, v.encrypt))).toThrow(/another app/);
    const noToken = signedCallback(callbackXml("").replace("<Token><![CDATA[]]></Token>", ""));
    const w = verifyWecomCallback(setup, noToken.query, noToken.body, now);
    expect(w.ok && (() => wecomCallbackOf(setup, w.encrypt))).toThrow(InvalidPush);
  });

  it("ignores the app's other events", () => {
    const xml = callbackXml().replace("kf_msg_or_event", "kf_account_auth_change");
    const { query, body } = signedCallback(xml);
    const v = verifyWecomCallback(setup, query, body, now);
    expect(v.ok && wecomCallbackOf(setup, v.encrypt)).toEqual({ kind: "ignored", event: "kf_account_auth_change" });
  });
});
