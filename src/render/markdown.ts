// Text from a run written into Markdown, and read back out of it: the one Markdown escape.

/** A plain decimal number, as a number cell holds it ("-0.5", "1e-5"): not text to neutralise. */
export const isPlainNumber = (s: string) => /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s);

/**
 * Text from a run (an error, a warning, a path, a description) as one line of Markdown that shows
 * exactly that text: no raw HTML, nothing that ends a table cell, starts emphasis, code or a link.
 * Line breaks become spaces (one line per cell or list item); a leading `=`, `+`, `-`, `@` or `#`
 * (a formula, list or heading marker) is escaped too, unless the text is a plain number.
 */
export function mdText(value: unknown): string {
  const s = String(value ?? '')
    .replace(/\s*[\r\n\v\f\u0085\u2028\u2029]+\s*/g, ' ')
    .replace(/[\\`*_[\]|]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  return /^[=+\-@#]/.test(s) && !isPlainNumber(s) ? `\\${s}` : s;
}

/** Text from a run as a Markdown code span on one line (a fence longer than any run of backticks in it); not for table cells. */
export function mdCode(value: unknown): string {
  const s = String(value ?? '').replace(/\s*[\r\n\v\f\u0085\u2028\u2029]+\s*/g, ' ');
  if (!s) return '';
  const fence = '`'.repeat(Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length)) + 1);
  const pad = /^[` ]|[` ]$/.test(s) ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** A cell's text as written by mdText, back to the text itself (then escaped for HTML by `esc`). */
export const mdUnescape = (s: string) =>
  s
    .replace(/\\([\\`*_[\]|=+\-@#])/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
