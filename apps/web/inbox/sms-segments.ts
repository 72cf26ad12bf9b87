/**
 * How many SMS a text costs. GSM-7 carries 160 characters in one message, 153 per part once it must be
 * split (the rest of each part holds the concatenation header); a character of GSM-7's extension table
 * (€, [, ], {, }, ^, ~, |, \, form feed) takes two, and is never split across parts. One character
 * outside GSM-7 (Chinese, an emoji, a curly quote) switches the whole text to UCS-2: 70 UTF-16 units in one
 * message, 67 per part, a surrogate pair never split. Twilio splits and joins; the agent sees the cost.
 */

const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED = "\f^{}\\[~]|€";
const basic = new Set(GSM_BASIC);
const extended = new Set(GSM_EXTENDED);

export type SmsSegments = {
  encoding: "GSM-7" | "UCS-2";
  /** Messages the text is sent as (0 for no text). */
  segments: number;
  /** Units (GSM-7 septets or UTF-16 code units) in the last message, and how many one holds. */
  used: number;
  perSegment: number;
};

export function smsSegments(text: string): SmsSegments {
  const chars = [...text];
  const gsm = chars.every((c) => basic.has(c) || extended.has(c));
  // Each character's cost in its encoding's units.
  const costs = chars.map((c) => (gsm ? (extended.has(c) ? 2 : 1) : c.length));
  const total = costs.reduce((a, b) => a + b, 0);
  const single = gsm ? 160 : 70;
  const encoding = gsm ? "GSM-7" : "UCS-2";
  if (total <= single) return { encoding, segments: total ? 1 : 0, used: total, perSegment: single };
  const per = gsm ? 153 : 67;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > per) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return { encoding, segments, used, perSegment: per };
}
