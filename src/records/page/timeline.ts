import type { CallRecord } from '../call-record.js';
import { clock, esc } from './html.js';

const WIDTH = 1000;
const LEFT = 56;
const LANE = 26;
const LANES = { caller: 18, agent: 18 + LANE + 8, tools: 18 + 2 * (LANE + 8) } as const;
const HEIGHT = LANES.tools + LANE + 28;

/**
 * The call as a picture: who spoke when (caller and agent lanes), barge-ins with how much was heard,
 * tool calls with their durations; the gaps between are the silences. Hover shows what was said.
 */
export function timelineSvg(record: CallRecord): string {
  const total = Math.max(record.durationMs, 1000);
  const x = (ms: number) => LEFT + (Math.max(0, Math.min(ms, total)) / total) * (WIDTH - LEFT - 10);
  const w = (from: number, to: number) => Math.max(2, x(to) - x(from));
  const parts: string[] = [];
  for (const [lane, y] of Object.entries(LANES))
    parts.push(`<text x="4" y="${y + LANE / 2 + 4}">${lane}</text>`);
  // a tick every 5, 10, 30 or 60 s, whichever keeps them under about 12
  const step = [5_000, 10_000, 30_000, 60_000, 300_000].find((s) => total / s <= 12) ?? 600_000;
  for (let t = 0; t <= total; t += step) {
    parts.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="10" y2="${HEIGHT - 18}" stroke="currentColor" stroke-opacity=".12"/>`,
      `<text x="${x(t) - 14}" y="${HEIGHT - 4}">${clock(t)}</text>`,
    );
  }
  const said = (role: 'caller' | 'agent', start: number, end: number) =>
    record.transcript.find((l) => l.role === role && l.startMs < end && l.endMs > start)?.text;
  for (const s of record.speech) {
    const text = said(s.role, s.startMs, s.endMs);
    const label = `${s.role} ${clock(s.startMs)}–${clock(s.endMs)}${s.interrupted ? ' (cut off)' : ''}${text ? `: ${text}` : ''}`;
    parts.push(
      `<rect class="speech ${s.role}" x="${x(s.startMs)}" y="${LANES[s.role]}" width="${w(s.startMs, s.endMs)}" height="${LANE}" rx="4" fill="var(--${s.role})"><title>${esc(label)}</title></rect>`,
    );
  }
  for (const b of record.bargeIns) {
    parts.push(
      `<line class="barge-in" x1="${x(b.atMs)}" x2="${x(b.atMs)}" y1="${LANES.caller - 4}" y2="${LANES.agent + LANE + 4}" stroke="var(--cut)" stroke-width="2"><title>${esc(`barge-in at ${clock(b.atMs)}: the caller heard ${b.heardMs} ms of that answer`)}</title></line>`,
    );
  }
  for (const t of record.toolCalls) {
    parts.push(
      `<rect class="tool" x="${x(t.atMs)}" y="${LANES.tools}" width="${w(t.atMs, t.atMs + t.durationMs)}" height="${LANE}" rx="4" fill="var(--tool)"><title>${esc(`${t.name}: ${t.durationMs} ms, ${t.ok ? 'ok' : (t.errorCode ?? 'error')}`)}</title></rect>`,
      `<text x="${x(t.atMs) + 3}" y="${LANES.tools + LANE + 11}">${esc(t.name)}</text>`,
    );
  }
  return `<svg class="timeline" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="Call timeline">${parts.join('')}</svg>`;
}
