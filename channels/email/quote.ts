/**
 * Splits an email's plain text into what the sender wrote now, the quoted history below it, and the
 * signature, so the timeline shows the new text and keeps the rest collapsible. Pure and conservative:
 * when no marker is found the whole text is the new text, never the other way round.
 */

// Lines that introduce the quoted previous message, as clients write them.
const HISTORY_MARKERS: RegExp[] = [
  // Gmail / Apple Mail: "On Tue, 3 Mar 2026 at 10:00, Ann <ann@x> wrote:" (may wrap onto two lines).
  /^\s*On\b[^\n]{0,300}\bwrote:\s*$/im,
  /^\s*On\b[^\n]{0,200}\n[^\n]{0,200}\bwrote:\s*$/im,
  /^\s*Le\b[^\n]{0,300}\ba écrit\s*:\s*$/im,
  /^\s*Am\b[^\n]{0,300}\bschrieb[^\n]{0,100}:\s*$/im,
  // Chinese Gmail / Apple Mail / Foxmail: "在 2026年3月3日 10:00，Ann <ann@x> 写道：".
  /^\s*在[^\n]{0,300}(写道|寫道)\s*[:：]\s*$/m,
  /^[^\n]{0,300}于[^\n]{0,100}(写道|寫道)\s*[:：]\s*$/m,
  // Outlook: a rule or header block.
  /^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|原始邮件|原始郵件)\s*-{2,}\s*$/im,
  /^\s*_{10,}\s*$/m,
  /^\s*(From|发件人|寄件者|Von|De)\s*[:：][^\n]*\n\s*(Sent|Date|发送时间|日期|寄件日期|Gesendet|Envoyé)\s*[:：]/im,
  // Foxmail: "------------------ 原始邮件 ------------------".
  /^\s*-{5,}\s*(原始邮件|Original)\s*-{5,}\s*$/im,
];

const SIGNATURE = /^-- ?$/m;

export type SplitText = { text: string; quoted: string | null; signature: string | null };

export function splitQuoted(body: string): SplitText {
  const normalized = body.replace(/\r\n?/g, "\n");
  let cut = -1;
  for (const marker of HISTORY_MARKERS) {
    const m = marker.exec(normalized);
    if (m && (cut < 0 || m.index < cut)) cut = m.index;
  }
  // A block of "> " lines that runs to the end (or to a signature) is quoted history too.
  const lines = normalized.split("\n");
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*>/.test(lines[i]!) && lines.slice(i).every((l) => /^\s*(>|$)/.test(l))) {
      if (cut < 0 || offset < cut) cut = offset;
      break;
    }
    offset += lines[i]!.length + 1;
  }
  let head = cut >= 0 ? normalized.slice(0, cut) : normalized;
  const quoted = cut >= 0 ? normalized.slice(cut).trim() : null;
  let signature: string | null = null;
  const sig = SIGNATURE.exec(head);
  if (sig) {
    signature = head.slice(sig.index + sig[0].length).trim() || null;
    head = head.slice(0, sig.index);
  }
  const text = head.trim();
  // Nothing new above the marker (a bare forward): keep everything as the text rather than show nothing.
  if (!text && quoted) return { text: quoted, quoted: null, signature };
  return { text, quoted: quoted || null, signature };
}
