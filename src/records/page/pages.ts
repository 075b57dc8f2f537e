import { maskNumber } from '../../observability/mask.js';
import type { CallRecord } from '../call-record.js';
import { CALL_OUTCOMES, type CallFilter, type CallSummary } from '../store.js';
import { clock, duration, esc, page, usd } from './html.js';
import { timelineSvg } from './timeline.js';

function outcomeCell(kind: string, code?: string): string {
  return kind === 'failed' ? `<span class="failed">failed${code ? ` (${esc(code)})` : ''}</span>` : esc(kind);
}

/** The list of calls, newest first, with filters by outcome and date. */
export function callListPage(calls: CallSummary[], filter: CallFilter, base: string, next?: string): string {
  const since = filter.since ? filter.since.toISOString().slice(0, 10) : '';
  const rows = calls
    .map(
      (c) => `<tr class="call">
<td>${esc(new Date(c.startedAt).toLocaleString('en-GB', { timeZone: 'UTC' }))} UTC</td>
<td>${esc(c.from ? maskNumber(c.from) : '—')}</td>
<td>${esc(duration(c.durationMs))}</td>
<td>${outcomeCell(c.outcome, c.code)}</td>
<td>${esc(c.tools.join(', ') || '—')}</td>
<td>${esc(usd(c.costUsd))}</td>
<td>${c.latencyP50Ms === undefined ? '—' : `${c.latencyP50Ms} ms`}</td>
<td><a href="${esc(`${base}/${encodeURIComponent(c.callSid)}`)}">${esc(c.callSid)}</a>${c.simulated ? ' <span class="muted">simulated</span>' : ''}</td>
</tr>`,
    )
    .join('');
  const options = ['', ...CALL_OUTCOMES]
    .map((o) => `<option value="${o}"${filter.outcome === o ? ' selected' : ''}>${o || 'any'}</option>`)
    .join('');
  return page(
    'Calls · voice-agent',
    `<form class="filters" method="get" action="${esc(base)}">
<label>Outcome<select name="outcome">${options}</select></label>
<label>Since<input type="date" name="since" value="${esc(since)}"></label>
<button type="submit">Filter</button></form>
<table><thead><tr><th>Started</th><th>Caller</th><th>Length</th><th>Outcome</th><th>Tools</th><th>Cost</th><th>Latency p50</th><th>Call</th></tr></thead>
<tbody>${rows || '<tr><td colspan="8" class="muted">No calls match.</td></tr>'}</tbody></table>
${next ? `<p><a href="${esc(next)}">Older calls →</a></p>` : ''}`,
    { home: base },
  );
}

/** One call: facts, the timeline picture, the recording, transcript, tool calls, latency and cost. */
export function callPage(r: CallRecord, options: { audioSrc?: string; home?: string }): string {
  const outcome =
    r.outcome.kind === 'failed'
      ? `<span class="failed">failed (${esc(r.outcome.code)})</span>: ${esc(r.outcome.reason)}`
      : `${esc(r.outcome.kind)}: ${esc(r.outcome.reason)}`;
  const latency = r.latency.turns.map((t) => `${t.ms} ms`).join(', ');
  const transcript = r.transcript
    .map(
      (l) =>
        `<div class="line ${l.role}"><span class="muted">${clock(l.startMs)}</span><span class="who">${l.role}</span><span>${esc(l.text)}${l.interrupted ? ` <span class="cut">cut off after ${l.heardMs} ms</span>` : ''}</span></div>`,
    )
    .join('');
  const tools = r.toolCalls
    .map(
      (t) =>
        `<tr><td>${clock(t.atMs)}</td><td>${esc(t.name)}</td><td>${t.ok ? 'ok' : `<span class="failed">${esc(t.errorCode ?? 'error')}</span>`}</td><td>${t.durationMs} ms</td><td><pre>${esc(t.arguments)}</pre></td><td><pre>${esc(t.output)}</pre></td></tr>`,
    )
    .join('');
  const body = `<h1>${esc(r.callSid)}${r.simulated ? ' <span class="muted">simulated</span>' : ''}</h1>
<dl class="facts">
<dt>Agent</dt><dd>${esc(r.agent.name)} <span class="muted">(${esc(r.agent.model)}, file ${esc(r.agent.hash)})</span></dd>
<dt>${r.direction === 'outbound' ? 'Outbound' : 'Caller'}</dt><dd>${esc(r.from ? maskNumber(r.from) : '—')} → ${esc(r.to ? maskNumber(r.to) : '—')}${r.answeredBy ? ` <span class="muted">(answered by: ${esc(r.answeredBy)})</span>` : ''}</dd>
<dt>Started</dt><dd>${esc(r.startedAt)} · ${esc(duration(r.durationMs))}</dd>
<dt>Outcome</dt><dd class="outcome">${outcome}</dd>
<dt>Latency</dt><dd>greeting ${r.latency.greetingMs ?? '—'} ms; turns ${latency || '—'}${r.latency.p50Ms === undefined ? '' : ` (p50 ${r.latency.p50Ms} ms)`}</dd>
<dt>Cost</dt><dd>${esc(usd(r.cost.total))} <span class="muted">(model ${esc(usd(r.cost.model))}, transcription ${esc(usd(r.cost.transcription))}; ${r.usage.responses} responses)</span></dd>
${r.reconnects.length ? `<dt>Reconnects</dt><dd>${r.reconnects.map((x) => `${clock(x.atMs)} ${esc(x.reason)} (${x.gapMs} ms)`).join(', ')}</dd>` : ''}
</dl>
<h2>Timeline</h2>${timelineSvg(r)}
<p class="muted"><span style="color:var(--caller)">■</span> caller &nbsp; <span style="color:var(--agent)">■</span> agent &nbsp; <span style="color:var(--tool)">■</span> tool call &nbsp; <span style="color:var(--cut)">|</span> barge-in &nbsp; (gaps are silences; hover for what was said)</p>
${options.audioSrc ? `<h2>Recording</h2><audio controls preload="metadata" src="${esc(options.audioSrc)}"></audio><p class="muted">Left: caller. Right: agent.</p>` : ''}
<h2>Transcript</h2><div class="transcript">${transcript || '<p class="muted">Nothing was transcribed.</p>'}</div>
${(r.messages ?? []).length ? `<h2>Messages</h2><table class="messages"><thead><tr><th>At</th><th>Name</th><th>Number</th><th>Message</th></tr></thead><tbody>${(r.messages ?? []).map((m) => `<tr><td>${clock(m.atMs)}</td><td>${esc(m.name)}</td><td>${esc(m.phone)}</td><td>${esc(m.message)}</td></tr>`).join('')}</tbody></table>` : ''}
${postCallHtml(r)}
${voicemailHtml(r)}
${tools ? `<h2>Tool calls</h2><table class="tools"><thead><tr><th>At</th><th>Tool</th><th>Status</th><th>Took</th><th>Arguments</th><th>Output</th></tr></thead><tbody>${tools}</tbody></table>` : ''}`;
  return page(`${r.callSid} · voice-agent`, body, { home: options.home });
}

/** The login form of the calls page. */
export function loginPage(action: string, failed: boolean): string {
  return page(
    'Log in · voice-agent',
    `<h1>Calls</h1><form method="post" action="${esc(action)}">
<label>Admin token (VOICE_AGENT_ADMIN_TOKEN)<input type="password" name="token" autocomplete="current-password" autofocus></label>
<p><button type="submit">Log in</button></p>${failed ? '<p class="failed">That token is not right.</p>' : ''}</form>`,
  );
}

/** The post-call outcome: each field of the agent's schema, or why there is none. */
function postCallHtml(r: CallRecord): string {
  const p = r.postCall;
  if (!p) return '';
  const rows = Object.entries(p.data ?? {})
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k)}</th><td>${esc(v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`,
    )
    .join('');
  const body = p.error
    ? `<p class="failed">Not available: ${esc(p.error)}</p>`
    : `<table class="outcome"><tbody>${rows}</tbody></table>`;
  return `<h2>Outcome <small>${esc(p.model)}</small></h2>${body}`;
}

/** A voicemail left after an unanswered transfer: Twilio's recording and transcription. */
function voicemailHtml(r: CallRecord): string {
  const v = r.voicemail;
  if (!v) return '';
  const link = v.recordingUrl
    ? `<p><a href="${esc(v.recordingUrl)}">Recording</a>${v.seconds !== undefined ? ` (${v.seconds} s)` : ''}</p>`
    : '';
  return `<h2>Voicemail</h2>${link}<p>${esc(v.transcript ?? `Transcript: ${v.transcriptStatus ?? 'not yet'}`)}</p>`;
}
