import { afterAll, beforeEach, describe, expect, it } from "bun:test";
import { PermanentSendError, type OutboundMessage } from "../../conversations/channel.ts";
import { amrToWav, isAmr, wavOf } from "./amr.ts";
import { createWechatAdapter } from "./index.ts";
import { fetchMedia, mediaFileName, mediaIdOf, withPendingMedia } from "./media.ts";
import { fetchUserInfo } from "./user.ts";

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]);
/** A real AMR-NB recording shipped with the decoder's package (its first 8 KB: about 5 s). */
const AMR = new Uint8Array(
  await Bun.file(Bun.resolveSync("benz-amr-recorder/res/mario.amr", import.meta.dir)).arrayBuffer(),
).subarray(0, 8000);

type Recorded = { method: string; path: string; query: Record<string, string>; form?: FormData; body?: unknown };
const requests: Recorded[] = [];
/** What media/get answers next (by media id), else 404. */
const media = new Map<string, () => Response>();
let uploads = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const type = req.headers.get("content-type") ?? "";
    const r: Recorded = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams) };
    if (type.startsWith("multipart/")) r.form = await req.formData();
    else if (req.method === "POST") r.body = await req.json();
    requests.push(r);
    if (url.pathname === "/cgi-bin/token" || url.pathname === "/cgi-bin/stable_token")
      return Response.json({ access_token: "tok", expires_in: 7200 });
    if (url.pathname === "/cgi-bin/media/get")
      return media.get(r.query.media_id!)?.() ?? new Response("", { status: 404 });
    if (url.pathname === "/files/video.mp4")
      return new Response(new Uint8Array([0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 9]));
    if (url.pathname === "/cgi-bin/media/upload") return Response.json({ type: "image", media_id: `up-${++uploads}` });
    if (url.pathname === "/cgi-bin/user/info")
      return r.query.openid === "oNoRight"
        ? Response.json({ errcode: 48001, errmsg: "api unauthorized" })
        : Response.json({ subscribe: 1, openid: r.query.openid, unionid: "uUnion1" });
    return Response.json({ errcode: 0, errmsg: "ok" });
  },
});
const api = { apiBase: `http://127.0.0.1:${server.port}` };
afterAll(() => server.stop(true));
beforeEach(() => {
  requests.length = 0;
  media.clear();
});

describe("which pushes have a file to download", () => {
  it("images, voice, videos and files with a MediaId; not text, nor a file without one", () => {
    for (const msgType of ["image", "voice", "video", "shortvideo", "file"])
      expect(mediaIdOf({ msgType, mediaId: "m1" })).toBe("m1");
    expect(mediaIdOf({ msgType: "text", mediaId: "m1" })).toBeUndefined();
    expect(mediaIdOf({ msgType: "file" })).toBeUndefined();
  });

  it("records the download as pending on the message's data", () => {
    const inbound = withPendingMedia({
      channel: "wechat",
      channelAccountId: crypto.randomUUID(),
      externalId: "1",
      from: { kind: "wechat", value: "o1" },
      data: { msgType: "image", mediaId: "m1" },
    });
    expect(inbound.data?.media).toEqual({ state: "pending", attempts: 0 });
  });

  it("names files by type and message id, keeping a file's own title", () => {
    expect(mediaFileName("image", "123", "image/jpeg")).toBe("wechat-image-123.jpg");
    expect(mediaFileName("shortvideo", "9", "video/mp4")).toBe("wechat-video-9.mp4");
    expect(mediaFileName("file", "9", "application/pdf", "合同.pdf")).toBe("合同.pdf");
  });
});

describe("media/get", () => {
  it("returns the bytes with the type the bytes show, and the token and media id in the query", async () => {
    media.set("m1", () => new Response(JPEG, { headers: { "content-type": "application/octet-stream" } }));
    const got = await fetchMedia(api, "tok", "m1", 1000);
    expect(got).toMatchObject({ ok: true, contentType: "image/jpeg" });
    expect(got.ok && [...got.bytes]).toEqual([...JPEG]);
    expect(requests[0]!.query).toEqual({ access_token: "tok", media_id: "m1" });
  });

  it("returns WeChat's refusal with its code and text, permanent unless WeChat was busy", async () => {
    const refusal = (errcode: number, errmsg: string) => () =>
      new Response(JSON.stringify({ errcode, errmsg }), { headers: { "content-type": "text/plain" } });
    media.set("gone", refusal(40007, "invalid media_id"));
    media.set("busy", refusal(-1, "system error"));
    expect(await fetchMedia(api, "tok", "gone", 1000)).toEqual({
      ok: false,
      errcode: 40007,
      errmsg: "invalid media_id",
      permanent: true,
    });
    expect(await fetchMedia(api, "tok", "busy", 1000)).toMatchObject({ ok: false, errcode: -1, permanent: false });
  });

  it("follows a video's video_url", async () => {
    media.set("v", () => Response.json({ video_url: `${api.apiBase}/files/video.mp4` }));
    expect(await fetchMedia(api, "tok", "v", 1000)).toMatchObject({ ok: true, contentType: "video/mp4" });
  });

  it("refuses for good a file over the limit, and throws on other HTTP answers (to retry)", async () => {
    media.set("big", () => new Response(new Uint8Array(2000)));
    expect(await fetchMedia(api, "tok", "big", 1000)).toMatchObject({ ok: false, permanent: true });
    await expect(fetchMedia(api, "tok", "missing", 1000)).rejects.toThrow("HTTP 404");
  });
});

describe("voice notes", () => {
  it("recognizes AMR by its magic line", () => {
    expect(isAmr(AMR)).toBe(true);
    expect(isAmr(JPEG)).toBe(false);
  });

  it("writes PCM samples as a 16-bit mono WAV", () => {
    const wav = wavOf(new Float32Array([0, 1, -1]));
    const view = new DataView(wav.buffer);
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe("RIFF");
    expect(new TextDecoder().decode(wav.subarray(8, 16))).toBe("WAVEfmt ");
    expect(view.getUint32(24, true)).toBe(8000);
    expect(view.getUint32(40, true)).toBe(6);
    expect([view.getInt16(44, true), view.getInt16(46, true), view.getInt16(48, true)]).toEqual([0, 32767, -32768]);
  });

  it("decodes AMR-NB to an 8 kHz WAV that is not silence, and refuses what is not AMR", async () => {
    const wav = (await amrToWav(AMR))!;
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe("RIFF");
    const seconds = (wav.length - 44) / 2 / 8000;
    expect(seconds).toBeGreaterThan(1);
    // Not silence: the recording's samples vary.
    const samples = new Int16Array(wav.buffer.slice(44));
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(1000);
    expect(await amrToWav(JPEG)).toBeNull();
  });
});

describe("user/info", () => {
  it("returns the UnionID, or WeChat's refusal", async () => {
    expect(await fetchUserInfo(api, "tok", "oA")).toEqual({ ok: true, unionId: "uUnion1", subscribed: true });
    expect(requests[0]!.query).toEqual({ access_token: "tok", openid: "oA", lang: "zh_CN" });
    expect(await fetchUserInfo(api, "tok", "oNoRight")).toEqual({
      ok: false,
      errcode: 48001,
      errmsg: "api unauthorized",
    });
  });
});

describe("image replies", () => {
  const photo = { id: "a1", name: "receipt.jpg", contentType: "image/jpeg", size: JPEG.length, url: "/files/a1" };
  const reply = (overrides: Partial<OutboundMessage> = {}): OutboundMessage => ({
    idempotencyKey: "outbox-1",
    inbox: {
      id: "inbox-1",
      channel: "wechat",
      settings: { appId: "wx0123456789abcdef" },
      credentials: { appSecret: "s" },
    },
    conversationId: "c1",
    to: [{ kind: "wechat", value: "oCustomer" }],
    text: "请看收据",
    html: null,
    attachments: [photo],
    ...overrides,
  });
  const adapter = () => createWechatAdapter({ ...api, readFile: async () => JPEG });

  it("uploads each image first, then sends the text and an image message with the upload's media_id", async () => {
    await adapter().send(reply({ attachments: [photo, { ...photo, id: "a2", name: "b.jpg" }] }));
    const paths = requests.map((r) => r.path).filter((p) => !p.includes("token"));
    expect(paths).toEqual([
      "/cgi-bin/media/upload",
      "/cgi-bin/media/upload",
      "/cgi-bin/message/custom/send",
      "/cgi-bin/message/custom/send",
      "/cgi-bin/message/custom/send",
    ]);
    const upload = requests.find((r) => r.path === "/cgi-bin/media/upload")!;
    expect(upload.query).toMatchObject({ type: "image", access_token: "tok" });
    const file = upload.form!.get("media") as File;
    expect(file.name).toBe("receipt.jpg");
    expect([...new Uint8Array(await file.arrayBuffer())]).toEqual([...JPEG]);
    const sent = requests.filter((r) => r.path === "/cgi-bin/message/custom/send").map((r) => r.body);
    expect(sent[0]).toEqual({ touser: "oCustomer", msgtype: "text", text: { content: "请看收据" } });
    expect(sent[1]).toMatchObject({
      touser: "oCustomer",
      msgtype: "image",
      image: { media_id: expect.stringMatching(/^up-/) },
    });
  });

  it("sends an image alone when the reply has no text", async () => {
    await adapter().send(reply({ text: null }));
    const sent = requests.filter((r) => r.path === "/cgi-bin/message/custom/send").map((r) => r.body);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ msgtype: "image" });
  });

  it("refuses other files for good before sending anything", async () => {
    const err = await adapter()
      .send(reply({ attachments: [{ ...photo, name: "a.pdf", contentType: "application/pdf" }] }))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(requests).toHaveLength(0);
  });
});
