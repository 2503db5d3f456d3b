// The frame of every self-contained page ladder writes (report, trend, fleet): the one HTML escape,
// the page head, and charts inlined as SVG.

/** Text as HTML (element content and attribute values). */
export const esc = (s: unknown) =>
  String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/** Inline SVG in HTML needs no namespace declarations (the only URLs vega writes). */
export const inlineSvg = (svg: string) => svg.replace(/\s+xmlns(:xlink)?="[^"]*"/g, '').replace(/^<\?xml[^>]*>\s*/, '');

/** The head of every self-contained page ladder writes (report, trend, fleet), up to </head>. */
export function pageHead(title: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${css}</style>
</head>`;
}
