import { describe, expect, it } from "bun:test";
import * as wecom from "@wecom/crypto";
import { Invalid } from "../../platform/errors.ts";
import { decryptMessage, encryptMessage, isEncodingAesKey, WechatDecryptError } from "./crypto.ts";
import { messageSignature } from "./verify.ts";

// The demo Official Account of issue 20's public contract.
const KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID = "wx0123456789abcdef";
const RANDOM = Buffer.from("0123456789abcdef");

const xml = (content: string) =>
  `<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>` +
  `<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
  `<Content><![CDATA[${content}]]></Content><MsgId>1234567890123456</MsgId></xml>`;

/** 20 header bytes + message + AppID (18 bytes) fill whole 32-byte blocks: PKCS#7 adds a full block. */
const FILLS_TWO_BLOCKS = "a".repeat(64 - 20 - APP_ID.length);
const FILLS_FOUR_BLOCKS = "汉".repeat((128 - 20 - APP_ID.length) / 3);

const messages: Record<string, string> = {
  "Chinese text": xml("你好，我想查询订单 退款 🧧"),
  "empty text": "",
  "text starting with a byte-order mark": "\uFEFF你好",
  "text filling whole blocks": FILLS_TWO_BLOCKS,
  "text filling whole blocks, in three-byte characters": FILLS_FOUR_BLOCKS,
  "a long message": xml("消息".repeat(40_000)),
};

const cipherBytes = (encrypted: string) => Buffer.from(encrypted, "base64").length;

describe("the message crypto, cross-checked with @wecom/crypto", () => {
  for (const [name, message] of Object.entries(messages)) {
    it(`decrypts what @wecom/crypto encrypts: ${name}`, () => {
      expect(decryptMessage(KEY, wecom.encrypt(KEY, message, APP_ID), APP_ID)).toBe(message);
    });

    it(`encrypts what @wecom/crypto decrypts: ${name}`, () => {
      const { message: theirs, id } = wecom.decrypt(KEY, encryptMessage(KEY, message, APP_ID));
      expect(theirs).toBe(message);
      expect(id).toBe(APP_ID);
    });

    it(`produces the very bytes @wecom/crypto does for the same random prefix: ${name}`, () => {
      expect(encryptMessage(KEY, message, APP_ID, RANDOM)).toBe(wecom.encrypt(KEY, message, APP_ID, RANDOM));
    });
  }

  it("pads with a full 32-byte block when the plaintext already fills its blocks", () => {
    expect(cipherBytes(encryptMessage(KEY, FILLS_TWO_BLOCKS, APP_ID))).toBe(96);
    expect(cipherBytes(encryptMessage(KEY, FILLS_FOUR_BLOCKS, APP_ID))).toBe(160);
    expect(cipherBytes(encryptMessage(KEY, `${FILLS_TWO_BLOCKS}a`, APP_ID))).toBe(96);
    expect(cipherBytes(encryptMessage(KEY, FILLS_TWO_BLOCKS.slice(1), APP_ID))).toBe(64);
  });

  it("starts every plaintext with fresh random bytes, so equal messages encrypt differently", () => {
    expect(encryptMessage(KEY, "hi", APP_ID)).not.toBe(encryptMessage(KEY, "hi", APP_ID));
  });

  it("signs the encrypted body as @wecom/crypto does (msg_signature)", () => {
    const encrypted = encryptMessage(KEY, xml("你好"), APP_ID);
    expect(messageSignature("demo-wechat-token", "1700000000", "nonce42", encrypted)).toBe(
      wecom.getSignature("demo-wechat-token", "1700000000", "nonce42", encrypted),
    );
  });

  it("round-trips a push with the demo inbox's EncodingAESKey and AppID", () => {
    const push = xml("退款");
    expect(decryptMessage(KEY, encryptMessage(KEY, push, APP_ID), APP_ID)).toBe(push);
  });

  it("round-trips a WeCom callback, where the receiveId is the CorpID", () => {
    expect(
      decryptMessage(KEY, encryptMessage(KEY, "kf_msg_or_event", "ww0123456789abcdef"), "ww0123456789abcdef"),
    ).toBe("kf_msg_or_event");
  });
});

function failure(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WechatDecryptError);
    expect(error).toBeInstanceOf(Invalid);
    return (error as WechatDecryptError).failure;
  }
  throw new Error("expected a WechatDecryptError");
}

describe("decryptMessage refuses", () => {
  const encrypted = encryptMessage(KEY, xml("你好"), APP_ID, RANDOM);
  const flip = (byte: number, bits: number) => {
    const bytes = Buffer.from(encrypted, "base64");
    bytes[byte]! ^= bits;
    return bytes.toString("base64");
  };

  it("a message encrypted for another app, even under the same key", () => {
    expect(failure(() => decryptMessage(KEY, encrypted, "wx_another_app0000"))).toBe("receive-id");
    expect(failure(() => decryptMessage(KEY, wecom.encrypt(KEY, "hi", "wx_another"), APP_ID))).toBe("receive-id");
  });

  it("an AppID that only starts like the expected one", () => {
    expect(failure(() => decryptMessage(KEY, encryptMessage(KEY, "hi", `${APP_ID}x`), APP_ID))).toBe("receive-id");
    expect(failure(() => decryptMessage(KEY, encryptMessage(KEY, "hi", APP_ID.slice(0, -1)), APP_ID))).toBe(
      "receive-id",
    );
  });

  it("ciphertext whose padding was tampered with", () => {
    const last = Buffer.from(encrypted, "base64").length - 1;
    // In CBC a bit flipped in one block flips the same bit of the next block's plaintext: here, the pad byte.
    expect(failure(() => decryptMessage(KEY, flip(last - 16, 0x01), APP_ID))).toBe("padding");
  });

  it("ciphertext whose length field was tampered with to run past the data", () => {
    // Byte 0 of the first block flips byte 16 of the plaintext: the high byte of the length.
    expect(failure(() => decryptMessage(KEY, flip(0, 0x80), APP_ID))).toBe("length");
  });

  it("ciphertext whose receiveId was tampered with", () => {
    // An empty message puts the AppID at plaintext byte 20; flipping ciphertext byte 4 turns "wx…" into "vx…"
    // and garbles only the random prefix, which nothing can check.
    const bytes = Buffer.from(encryptMessage(KEY, "", APP_ID, RANDOM), "base64");
    bytes[4]! ^= 0x01;
    expect(failure(() => decryptMessage(KEY, bytes.toString("base64"), APP_ID))).toBe("receive-id");
  });

  it("ciphertext decrypted with another EncodingAESKey", () => {
    expect(failure(() => decryptMessage("B".repeat(43), encrypted, APP_ID))).toBeOneOf([
      "padding",
      "length",
      "encoding",
      "receive-id",
    ]);
  });

  it("ciphertext that is not base64, empty, or not whole 32-byte blocks", () => {
    expect(failure(() => decryptMessage(KEY, `${encrypted.slice(0, 20)}<>${encrypted.slice(20)}`, APP_ID))).toBe(
      "ciphertext",
    );
    expect(failure(() => decryptMessage(KEY, "", APP_ID))).toBe("ciphertext");
    expect(failure(() => decryptMessage(KEY, Buffer.alloc(48).toString("base64"), APP_ID))).toBe("ciphertext");
    expect(failure(() => decryptMessage(KEY, Buffer.alloc(16).toString("base64"), APP_ID))).toBe("ciphertext");
  });
});

describe("the EncodingAESKey", () => {
  const bad = {
    "42 characters": KEY.slice(0, 42),
    "44 characters": `${KEY}=`,
    "a character outside base64": `${KEY.slice(0, 42)}-`,
    "a space": ` ${KEY.slice(1)}`,
    empty: "",
  };

  for (const [name, key] of Object.entries(bad)) {
    it(`is refused with ${name}, naming the field encodingAesKey`, () => {
      for (const run of [() => encryptMessage(key, "hi", APP_ID), () => decryptMessage(key, "AAAA", APP_ID)]) {
        try {
          run();
          throw new Error("expected Invalid");
        } catch (error) {
          expect(error).toBeInstanceOf(Invalid);
          expect(error).not.toBeInstanceOf(WechatDecryptError);
          expect((error as Invalid).field).toBe("encodingAesKey");
        }
      }
      expect(isEncodingAesKey(key)).toBe(false);
    });
  }

  it("is 43 characters of base64 as WeChat's console generates them", () => {
    expect(isEncodingAesKey(KEY)).toBe(true);
    expect(isEncodingAesKey(`${"A+/".repeat(14)}z`)).toBe(true);
  });
});
