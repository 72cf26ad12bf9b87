/**
 * CSV as RFC 4180 has it, safe to open in a spreadsheet: a cell that starts with = + - @ (or a tab or
 * carriage return) is a formula to Excel and LibreOffice, so it gets a leading apostrophe (OWASP's
 * advice); cells with a comma, quote or line break are quoted, quotes doubled; lines end in CRLF.
 */
export function csvCell(value: unknown): string {
  if (value == null) return "";
  const text = value instanceof Date ? value.toISOString() : String(value);
  // Numbers are data, not formulas: a negative figure keeps its minus sign.
  const s = typeof value === "number" ? text : defuseFormula(text);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A text a spreadsheet would run as a formula (= + - @, tab, carriage return first) with an apostrophe before it. */
export function defuseFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export function csvLine(cells: unknown[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}

/**
 * A CSV body streamed page by page: `page(after)` reads the next page of rows (keyset, after the last
 * row of the previous page), so at most one page is held in memory however many rows there are.
 */
export function csvStream<T>(
  header: string[],
  toCells: (row: T) => unknown[],
  page: (after: T | undefined) => Promise<T[]>,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let last: T | undefined;
  let started = false;
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(encoder.encode(csvLine(header)));
          return;
        }
        if (done) return controller.close();
        const rows = await page(last);
        if (!rows.length) {
          done = true;
          return controller.close();
        }
        last = rows[rows.length - 1];
        controller.enqueue(encoder.encode(rows.map((r) => csvLine(toCells(r))).join("")));
      },
    },
    // One page at a time: the next read waits until the client has taken this one.
    { highWaterMark: 1 },
  );
}

/** The flat columns of a summary row: nested figures become `firstResponseS.p50` and so on. */
export function flatten(row: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v && typeof v === "object" && !(v instanceof Date))
      Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}
