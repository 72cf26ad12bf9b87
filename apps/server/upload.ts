import { Invalid } from "../../platform/errors.ts";

/** A file arriving in a multipart request: its name and type, then its bytes as they come. */
export type StreamedUpload = { name: string; contentType: string; content: AsyncIterable<Uint8Array> };

const MAX_PART_HEADER_BYTES = 16 * 1024;
const CRLF2 = Buffer.from("\r\n\r\n");

/**
 * The `file` field of a multipart/form-data request, read from the body stream (Request.formData()
 * would hold the whole upload in memory, ten megabytes per request). Other fields before it are
 * skipped; the bytes after it are never read. The caller enforces the size while consuming `content`.
 */
export async function streamedUpload(req: Request): Promise<StreamedUpload> {
  const missing = () => new Invalid("Send the file as multipart field 'file'", "file");
  const type = req.headers.get("content-type") ?? "";
  const boundary = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(type);
  if (!boundary || !req.body) throw missing();
  const reader = req.body.getReader();
  // Every boundary line but the first follows a CRLF; starting the buffer with one makes them alike.
  const delimiter = Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}`);
  let buf = Buffer.from("\r\n");
  const more = async () => {
    const { done, value } = await reader.read();
    if (done) return false;
    buf = buf.length ? Buffer.concat([buf, value]) : Buffer.from(value);
    return true;
  };
  const fail = async (err: Error) => {
    await reader.cancel().catch(() => {});
    return err;
  };

  for (;;) {
    // Up to the next boundary line, dropping what a skipped part held.
    let at: number;
    while ((at = buf.indexOf(delimiter)) < 0) {
      if (buf.length > delimiter.length) buf = buf.subarray(buf.length - delimiter.length);
      if (!(await more())) throw await fail(missing());
    }
    buf = buf.subarray(at + delimiter.length);
    while (buf.length < 2) if (!(await more())) throw await fail(missing());
    // "--" after the boundary closes the form: it had no file.
    if (buf[0] === 0x2d && buf[1] === 0x2d) throw await fail(missing());
    let end: number;
    while ((end = buf.indexOf(CRLF2)) < 0) {
      if (buf.length > MAX_PART_HEADER_BYTES) throw await fail(new Invalid("Multipart headers are too long", "file"));
      if (!(await more())) throw await fail(missing());
    }
    const headers = partHeaders(buf.subarray(0, end).toString("utf8"));
    buf = buf.subarray(end + CRLF2.length);
    if (headers.name !== "file" || headers.filename === undefined) continue;

    async function* content() {
      try {
        for (;;) {
          const stop = buf.indexOf(delimiter);
          if (stop >= 0) {
            if (stop) yield buf.subarray(0, stop);
            return;
          }
          // Keep a tail that may be the start of the boundary; everything before it is file content.
          const safe = buf.length - delimiter.length + 1;
          if (safe > 0) {
            yield buf.subarray(0, safe);
            buf = buf.subarray(safe);
          }
          if (!(await more())) throw new Invalid("The upload ended before the file did", "file");
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
    const contentType = headers.contentType ?? "application/octet-stream";
    return { name: headers.filename, contentType, content: content() };
  }
}

/** Content-Disposition's name and filename (RFC 7578; browsers send UTF-8 quoted strings), Content-Type. */
function partHeaders(block: string) {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-type") contentType = value;
    if (key !== "content-disposition") continue;
    name = param(value, "name");
    const extended = /;\s*filename\*\s*=\s*(?:UTF-8|utf-8)''([^;\s]+)/.exec(value)?.[1];
    filename = extended ? safeDecode(extended) : param(value, "filename");
  }
  return { name, filename, contentType };
}

function param(value: string, key: string) {
  const m = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
}

function safeDecode(s: string) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
