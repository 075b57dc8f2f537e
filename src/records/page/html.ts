/** Escapes text for HTML content and attribute values. */
export function esc(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** mm:ss on the call's timeline. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function usd(value: number | undefined): string {
  return value === undefined ? '—' : `$${value.toFixed(4)}`;
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #667085; --line: #d0d5dd; --caller: #2e90fa;
  --agent: #12b76a; --tool: #f79009; --cut: #f04438; --bg: #fff; --soft: #f5f7fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #98a2b3; --line: #344054; --bg: #101418; --soft: #1a2027; } }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--fg); background: var(--bg); }
header { padding: 14px 24px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; }
header a { color: inherit; text-decoration: none; font-weight: 600; }
main { padding: 20px 24px; max-width: 1200px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; font-size: 13px; }
tr.call:hover { background: var(--soft); }
a { color: var(--caller); }
.muted { color: var(--muted); }
.failed { color: var(--cut); font-weight: 600; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 20px; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
form.filters { display: flex; gap: 12px; align-items: end; margin-bottom: 16px; flex-wrap: wrap; }
label { display: grid; gap: 2px; font-size: 13px; color: var(--muted); }
input, select, button { font: inherit; padding: 5px 8px; }
.line { display: grid; grid-template-columns: 60px 60px 1fr; gap: 8px; padding: 5px 0; border-bottom: 1px solid var(--line); }
.line .who { font-weight: 600; }
.line.caller .who { color: var(--caller); }
.line.agent .who { color: var(--agent); }
.cut { color: var(--cut); font-size: 13px; }
svg.timeline { width: 100%; height: auto; background: var(--soft); border-radius: 6px; }
svg text { fill: var(--muted); font-size: 11px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; font-size: 13px; }
audio { width: 100%; margin: 8px 0 20px; }
h2 { font-size: 17px; margin: 26px 0 8px; }
h2 small { color: var(--muted); font-weight: 400; font-size: 13px; }
table.outcome th { width: 220px; }
`;

export function page(title: string, body: string, options: { home?: string } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>${options.home === undefined ? '' : `<header><a href="${esc(options.home)}">voice-agent · calls</a></header>`}<main>${body}</main></body></html>`;
}
