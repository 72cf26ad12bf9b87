import { createHash } from "node:crypto";
import { crc32, deflateRawSync } from "node:zlib";
import { Readable } from "node:stream";

/** One block of attachment bytes: 57 bytes encode to one 76-character base64 line. */
const BLOCK = Buffer.from(Array.from({ length: 57 * 1000 }, (_, i) => (i * 7 + 3) % 251));
const BLOCK_BASE64 = (BLOCK.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n") + "\r\n";

/**
 * A mail of about `megabytes` MB (one PDF attachment, base64), generated as it is read so the test
 * itself never holds it: what a customer's mail client sends for a huge scan. Returns the stream
 * maker, the attachment's size and SHA-256 to compare with what was stored, and the mail's size.
 */
export function largeMail(
  headers: { from: string; to: string; subject: string; messageId: string },
  megabytes: number,
) {
  const blocks = Math.max(1, Math.floor((megabytes * 1024 * 1024) / BLOCK_BASE64.length));
  const head = [
    `From: ${headers.from}`,
    `To: ${headers.to}`,
    `Subject: ${headers.subject}`,
    `Message-ID: <${headers.messageId}>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="big-boundary"',
    "",
    "--big-boundary",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "The scan is attached.",
    "--big-boundary",
    'Content-Type: application/pdf; name="scan.pdf"',
    'Content-Disposition: attachment; filename="scan.pdf"',
    "Content-Transfer-Encoding: base64",
    "",
    "",
  ].join("\r\n");
  const tail = "--big-boundary--\r\n";
  const hash = createHash("sha256");
  for (let i = 0; i < blocks; i++) hash.update(BLOCK);
  return {
    attachmentBytes: blocks * BLOCK.length,
    attachmentSha256: hash.digest("hex"),
    size: head.length + blocks * BLOCK_BASE64.length + tail.length,
    stream: () =>
      Readable.from(
        (function* () {
          yield Buffer.from(head);
          const line = Buffer.from(BLOCK_BASE64);
          for (let i = 0; i < blocks; i++) yield line;
          yield Buffer.from(tail);
        })(),
      ),
  };
}

/**
 * Samples the memory the process holds (JS heap and Buffers) until stopped: the peak above where it
 * started, in MB. Each sample collects garbage first, so what is measured is memory held, not
 * buffers the collector has not got round to (Bun frees them lazily: RSS swings by hundreds of MB).
 * A full collection costs in proportion to everything the process holds — late in the suite, the heap of
 * every earlier test file — so the next sample waits at least GC_SHARE times as long as the last one took:
 * the watcher never takes more than a fifth of the thread from the mail it watches (at a fixed 50 ms it
 * took all of it, and a 4 s mail took minutes).
 */
export function watchMemory(everyMs = 50) {
  const GC_SHARE = 4;
  let gcMs = 0;
  const held = () => {
    const started = performance.now();
    Bun.gc(true);
    gcMs = performance.now() - started;
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const start = held();
  let peak = start;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const sample = () => {
    peak = Math.max(peak, held());
    timer = setTimeout(sample, Math.max(everyMs, gcMs * GC_SHARE));
  };
  timer = setTimeout(sample, Math.max(everyMs, gcMs * GC_SHARE));
  return {
    stop() {
      clearTimeout(timer);
      peak = Math.max(peak, held());
      return Math.round((peak - start) / 1024 / 1024);
    },
  };
}

/**
 * A zip bomb: a ~100 KB archive holding one 100 MB file of zeros (the kind of attachment that takes
 * down a server that unpacks or scans archives). Switchboard stores it as it is, never unpacked.
 */
export function zipBomb(unpackedMb = 100) {
  const size = unpackedMb * 1024 * 1024;
  const zeros = Buffer.alloc(size);
  const packed = deflateRawSync(zeros, { level: 9 });
  const crc = crc32(zeros);
  const name = Buffer.from("zeros.bin");
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(packed.length, 20);
  central.writeUInt32LE(size, 24);
  central.writeUInt16LE(name.length, 28);
  const centralOffset = local.length + name.length + packed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, name, packed, central, name, end]);
}

/**
 * The bad input, as raw mails from `from` to `to`, keyed by what each tests: each must be
 * stored or held back with a reason, and none may stop the mail after it.
 */
export function badMails(from: string, to: string, tag: string) {
  const crlf = (lines: string[]) => lines.join("\r\n") + "\r\n";
  const bomb = zipBomb();
  return {
    bomb,
    mails: {
      malformedMime: crlf([
        `From: ${from}`,
        `To: ${to}`,
        `Subject: Malformed ${tag}`,
        `Message-ID: <mal-${tag}@x.test>`,
        'Content-Type: multipart/mixed; boundary="never-closed"',
        "",
        "--never-closed",
        "Content-Type: text/plain",
        "",
        "half a mail",
        "--never-clo",
      ]),
      missingMessageId: crlf([`From: ${from}`, `To: ${to}`, `Subject: No id ${tag}`, "", `no message id ${tag}`]),
      invalidCharset: crlf([
        `From: ${from}`,
        `To: ${to}`,
        `Subject: =?x-no-such-charset?B?SGVsbG8=?= ${tag}`,
        `Message-ID: <cs-${tag}@x.test>`,
        "Content-Type: text/plain; charset=x-no-such-charset",
        "",
        "plain words anyway",
      ]),
      tenThousandRecipients: crlf([
        `From: ${from}`,
        `To: ${to}, ${Array.from({ length: 9_999 }, (_, i) => `r${i}-${tag}@x.test`).join(", ")}`,
        `Subject: Everyone ${tag}`,
        `Message-ID: <many-${tag}@x.test>`,
        "",
        "to all of you",
      ]),
      zipBomb: crlf([
        `From: ${from}`,
        `To: ${to}`,
        `Subject: Bomb ${tag}`,
        `Message-ID: <bomb-${tag}@x.test>`,
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "see archive",
        "--b",
        'Content-Type: application/zip; name="archive.zip"',
        'Content-Disposition: attachment; filename="archive.zip"',
        "Content-Transfer-Encoding: base64",
        "",
        ...(bomb.toString("base64").match(/.{1,76}/g) ?? []),
        "--b--",
      ]),
      notAMail: "\u0000\u0001 not a mail at all \r\n\r\n\u00ff\r\n",
    },
  };
}
