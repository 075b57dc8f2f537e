import type { SimulationReport } from './simulation.js';

/** A readable rendering of a simulation report (the `--json` shape is the report itself). */

const clock = (ms: number) => {
  const s = ms / 1000;
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(1).padStart(4, '0')}`;
};

function describeNext(report: SimulationReport): string {
  const next = report.outcome.next;
  switch (next.kind) {
    case 'hangup':
      return report.outcome.ended_by === 'agent' ? 'the agent hung up' : 'the caller hung up';
    case 'dial':
      return `transferred to ${next.number}`;
    case 'say':
      return `fallback played: "${next.text}"`;
    case 'error':
      return `error: ${next.message}`;
    case 'connect-stream':
      return 'the server reconnected the stream';
    case 'other':
      return `the server answered <${next.verb}>`;
  }
}

export function formatReport(report: SimulationReport): string {
  const lines: string[] = [];
  type Entry = { at: number; text: string };
  const entries: Entry[] = [
    ...report.transcript.map((t) => ({
      at: t.at_ms,
      text: `${t.role === 'caller' ? 'caller' : 'agent '}  ${t.text}${t.interrupted ? `  [cut off after ${((t.heard_ms ?? 0) / 1000).toFixed(1)} s]` : ''}`,
    })),
    ...report.tool_calls.map((c) => ({
      at: c.at_ms,
      text: `tool    ${c.name}(${c.arguments}) → ${c.output} (${c.duration_ms} ms)`,
    })),
    ...report.barge_ins.map((b) => ({ at: b.at_ms, text: 'barge-in: the caller talked over the agent' })),
  ].sort((a, b) => a.at - b.at);
  lines.push('Transcript');
  if (entries.length === 0)
    lines.push('  (no transcript: the server runs elsewhere; only timings are known)');
  for (const e of entries) lines.push(`  ${clock(e.at)}  ${e.text}`);
  lines.push('', 'Latency (wall clock)');
  lines.push(
    `  greeting           ${report.latency.greeting_ms === null ? '—' : `${report.latency.greeting_ms} ms`}`,
  );
  for (const t of report.latency.turns) {
    lines.push(
      `  turn ${t.turn} (${t.file})  ${t.latency_ms === null ? 'no answer' : `${t.latency_ms} ms from end of speech to first agent audio`}`,
    );
  }
  lines.push(
    '',
    `Call: ${clock(report.duration_ms)}, agent audio heard ${clock(report.agent_audio_ms)}; ${describeNext(report)}.`,
  );
  if (report.problems.length) {
    lines.push('', 'Problems');
    for (const p of report.problems) lines.push(`  - ${p}`);
  }
  return `${lines.join('\n')}\n`;
}
