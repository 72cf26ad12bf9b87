import { describe, expect, it } from "bun:test";
import { Invalid as InvalidError } from "../../platform/errors.ts";
import { streamedUpload } from "./upload.ts";

/** A multipart request whose body arrives `chunk` bytes at a time, as from a slow network. */
async function multipart(form: FormData, chunk: number) {
  const encoded = new Request("http://x/", { method: "POST", body: form });
  const type = encoded.headers.get("content-type")!;
  const bytes = new Uint8Array(await encoded.arrayBuffer());
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += chunk)));
    },
  });
  return new Request("http://x/", { method: "POST", body, headers: { "content-type": type } });
}

async function collect(content: AsyncIterable<Uint8Array>) {
  const parts: Uint8Array[] = [];
  for await (const c of content) parts.push(c);
  return Buffer.concat(parts);
}

describe("streamed multipart upload", () => {
  // Bytes that look like the start of a boundary line, to catch a parser that cuts at "\r\n--".
  const payload = Buffer.concat([
    Buffer.from("head\r\n--not-the-boundary\r\n"),
    Buffer.alloc(70_000, 7),
    Buffer.from("\r\n-tail"),
  ]);

  for (const chunk of [1, 7, 64, 65_536]) {
    it(`yields the file's exact bytes, other fields skipped (chunks of ${chunk})`, async () => {
      const form = new FormData();
      form.append("note", "x".repeat(chunk === 1 ? 10 : 5000));
      form.append("file", new File([payload], '报告 "q".pdf', { type: "application/pdf" }));
      form.append("after", "ignored");
      const upload = await streamedUpload(await multipart(form, chunk));
      expect(upload.contentType).toBe("application/pdf");
      expect(upload.name).toContain("报告");
      expect((await collect(upload.content)).equals(payload)).toBe(true);
    });
  }

  it("refuses a request without a file field, naming the field", async () => {
    const form = new FormData();
    form.append("note", "no file here");
    const err = await streamedUpload(await multipart(form, 100)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidError);
    expect((err as InvalidError).field).toBe("file");
    const plain = await streamedUpload(
      new Request("http://x/", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
    ).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(InvalidError);
  });

  it("fails a body that ends inside the file", async () => {
    const form = new FormData();
    form.append("file", new File([payload], "a.pdf", { type: "application/pdf" }));
    const whole = await multipart(form, 1_000_000);
    const type = whole.headers.get("content-type")!;
    const bytes = new Uint8Array(await whole.arrayBuffer());
    const cut = new Request("http://x/", {
      method: "POST",
      body: bytes.slice(0, 5000),
      headers: { "content-type": type },
    });
    const upload = await streamedUpload(cut);
    expect(await collect(upload.content).catch((e: unknown) => e)).toBeInstanceOf(InvalidError);
  });
});
