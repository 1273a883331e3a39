/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled; null is empty. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One record, CRLF-terminated as RFC 4180 has it. */
export function csvRow(fields: readonly unknown[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}
