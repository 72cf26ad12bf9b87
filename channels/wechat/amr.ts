/**
 * WeChat voice messages come as AMR-NB (`Format` amr), which browsers cannot play. They are decoded to
 * 16-bit PCM WAV (8 kHz mono, about 16 KB a second; a WeChat voice message lasts at most 60 s), which
 * every browser plays in an `<audio>` element.
 */

/** The magic line every single-channel AMR-NB file starts with (RFC 4867, section 5). */
const AMR_MAGIC = "#!AMR\n";
const SAMPLE_RATE = 8000;
/** A voice message longer than this is not a WeChat voice message: not decoded (60 s is WeChat's limit). */
const MAX_SECONDS = 180;

export function isAmr(bytes: Uint8Array) {
  if (bytes.length < AMR_MAGIC.length) return false;
  for (let i = 0; i < AMR_MAGIC.length; i++) if (bytes[i] !== AMR_MAGIC.charCodeAt(i)) return false;
  return true;
}

/** Samples in [-1, 1] as a 16-bit PCM mono WAV file (RIFF header of 44 bytes, little-endian). */
export function wavOf(samples: Float32Array, sampleRate = SAMPLE_RATE): Uint8Array {
  const dataBytes = samples.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(44 + i * 2, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
  }
  return out;
}

type Waiting = { resolve: (samples: Float32Array | null) => void; reject: (err: Error) => void };

/**
 * One decoder worker per process, started on the first voice message and unreferenced so it never keeps
 * the process alive. The worker answers in the order it was asked, so a queue matches answers to callers.
 */
let worker: Worker | undefined;
const waiting: Waiting[] = [];

function decoder() {
  if (worker) return worker;
  const w = new Worker(new URL("./amr-worker.ts", import.meta.url).href);
  // Bun's Worker has unref() (the DOM typings do not know it).
  (w as unknown as { unref(): void }).unref();
  w.onmessage = (e: MessageEvent<{ command: string; amr: Float32Array | null }>) =>
    waiting.shift()?.resolve(e.data.amr);
  w.onerror = (e) => {
    // A crashed decoder fails what it held; the next voice message starts a new one.
    worker = undefined;
    w.terminate();
    for (const next of waiting.splice(0)) next.reject(new Error(`AMR decoder failed: ${e.message}`));
  };
  worker = w;
  return w;
}

/** An AMR-NB file as WAV, or null when it is not AMR or too long to be a voice message. */
export async function amrToWav(amr: Uint8Array): Promise<Uint8Array | null> {
  if (!isAmr(amr)) return null;
  const samples = await new Promise<Float32Array | null>((resolve, reject) => {
    waiting.push({ resolve, reject });
    decoder().postMessage({ command: "decode", buffer: amr });
  });
  if (!samples || samples.length > MAX_SECONDS * SAMPLE_RATE) return null;
  return wavOf(samples);
}
