import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { encodeMulaw } from '../../audio/mulaw.js';
import { speechSegments } from '../../audio/speech-segments.js';
import { parseWav } from '../../audio/wav.js';
import { databaseUrlOf } from '../../db/open.js';
import { UsageError } from '../../errors.js';
import { maskNumber } from '../../observability/mask.js';
import { scenarioFromRecord, suiteYaml } from '../../records/as-test.js';
import type { CallRecord } from '../../records/call-record.js';
import { dataDir, openSharedOrLocalStore } from '../../records/open.js';
import { duration } from '../../records/page/html.js';
import { CALL_OUTCOMES, type CallStore, type CallSummary, readAudio } from '../../records/store.js';
import { type CliIo, colours, printJson } from '../io.js';

interface StoreOptions {
  dataDir?: string;
}

/**
 * Opens the store (PostgreSQL with DATABASE_URL, else the data directory's); a directory with nothing
 * recorded yet is said plainly.
 */
async function withStore<T>(
  io: CliIo,
  options: StoreOptions,
  fn: (store: CallStore) => Promise<T>,
): Promise<T> {
  const dir = dataDir(io.env, options.dataDir, io.cwd);
  if (!databaseUrlOf(io.env) && !existsSync(join(dir, 'calls.db'))) {
    throw new UsageError(
      `no calls recorded in ${dir} yet (serve and simulate record there; --data-dir or VOICE_AGENT_DATA_DIR point elsewhere)`,
      'no_records',
    );
  }
  const store = await openSharedOrLocalStore(io.env, dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `--since`: an ISO date/time, or a duration ago (`90m`, `24h`, `7d`). */
export function parseSince(text: string, now = Date.now()): Date {
  const ago = /^(\d+)\s*(m|h|d)$/.exec(text.trim());
  if (ago) return new Date(now - Number(ago[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 'm']);
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(
      `--since: expected an ISO date such as 2026-11-24 or a duration such as 24h, got "${text}"`,
    );
  return date;
}

export async function callsListCommand(
  io: CliIo,
  options: StoreOptions & { since?: string; outcome?: string; limit: string; json?: boolean },
): Promise<void> {
  const since = options.since === undefined ? undefined : parseSince(options.since);
  const outcome = options.outcome;
  if (outcome !== undefined && !(CALL_OUTCOMES as readonly string[]).includes(outcome))
    throw new UsageError(`--outcome: expected one of ${CALL_OUTCOMES.join(', ')}, got "${outcome}"`);
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new UsageError(`--limit: expected 1–10000, got "${options.limit}"`);
  const calls = await withStore(io, options, (store) =>
    store.list({ since, outcome: outcome as CallSummary['outcome'] | undefined, limit }),
  );
  if (options.json) {
    printJson(
      io,
      calls.map((c) => ({ ...c, from: c.from && maskNumber(c.from), to: c.to && maskNumber(c.to) })),
    );
    return;
  }
  if (calls.length === 0) {
    io.stdout.write('no calls match\n');
    return;
  }
  const c = colours(io);
  const rows = calls.map((call) => [
    formatTime(call.startedAt),
    call.from ? maskNumber(call.from) : '—',
    duration(call.durationMs),
    call.outcome === 'failed' ? c.red(`failed:${call.code ?? ''}`) : call.outcome,
    call.tools.join(',') || '—',
    call.costUsd === undefined ? '—' : `$${call.costUsd.toFixed(4)}`,
    call.latencyP50Ms === undefined ? '—' : `${call.latencyP50Ms} ms`,
    call.callSid + (call.simulated ? c.dim(' (simulated)') : ''),
  ]);
  io.stdout.write(
    table(['STARTED', 'FROM', 'LENGTH', 'OUTCOME', 'TOOLS', 'COST', 'LATENCY p50', 'CALL'], rows),
  );
}

export async function callsShowCommand(
  io: CliIo,
  callSid: string,
  options: StoreOptions & { json?: boolean },
): Promise<void> {
  const record = await withStore(io, options, (store) => findRecord(store, callSid));
  if (options.json) {
    printJson(io, record);
    return;
  }
  io.stdout.write(renderRecord(record, colours(io)));
}

export async function callsExportCommand(
  io: CliIo,
  callSid: string,
  options: StoreOptions & { out: string; asTest?: boolean; agent?: string },
): Promise<void> {
  const out = resolve(io.cwd, options.out);
  if (options.agent && !options.asTest)
    throw new UsageError('--agent goes with --as-test (the agent the test runs)');
  const { record, wav } = await withStore(io, options, async (store) => ({
    record: await findRecord(store, callSid),
    wav: await readAudio(await store.audio(callSid)),
  }));
  try {
    mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new UsageError(`--out: cannot create ${out}: ${(error as Error).message}`);
  }
  const written: string[] = [];
  const write = (name: string, data: string | Buffer) => {
    writeFileSync(join(out, name), data);
    written.push(name);
  };
  write('record.json', `${JSON.stringify(record, null, 2)}\n`);
  if (wav) {
    write('call.wav', wav);
    // the caller's turns found in their own audio (not by event times: a sped-up simulation's
    // recording is on another clock than its events)
    const caller = leftChannelMulaw(wav);
    speechSegments(caller).forEach((turn, i) => {
      // a little before and after, as VAD would want to hear it again
      const from = Math.max(0, turn.startMs - 300) * 8;
      const to = Math.min(caller.length, (turn.endMs + 300) * 8);
      if (to > from) write(`caller-turn-${String(i + 1).padStart(2, '0')}.ulaw`, caller.subarray(from, to));
    });
  }
  if (options.asTest) {
    if (!wav)
      throw new UsageError(
        `call ${callSid} has no recording (records.audio: false?): a test needs the caller's audio`,
      );
    const turns = written.filter((f) => f.endsWith('.ulaw'));
    const agentPath = options.agent ? relative(out, resolve(io.cwd, options.agent)) || '.' : './agent.yaml';
    write(
      'test.yaml',
      suiteYaml(
        agentPath,
        scenarioFromRecord(
          record,
          turns.map((f) => `./${f}`),
        ),
      ),
    );
  }
  io.stdout.write(
    `${written.map((f) => `  ${join(options.out, f)}`).join('\n')}\n` +
      (options.asTest ? `Run it: voice-agent test ${join(options.out, 'test.yaml')}\n` : '') +
      (wav
        ? `Replay the caller: voice-agent simulate <agent.yaml> ${written
            .filter((f) => f.endsWith('.ulaw'))
            .map((f) => `--audio ${join(options.out, f)}`)
            .join(' ')}\n`
        : 'No recording was kept for this call (records.audio: false, or it ended before any audio).\n'),
  );
}

async function findRecord(store: CallStore, callSid: string): Promise<CallRecord> {
  const record = await store.get(callSid);
  if (!record)
    throw new UsageError(
      `no call ${callSid} in ${store.location} (calls list shows the calls kept there)`,
      'not_found',
    );
  return record;
}

/** The caller's side of a recording (left channel of our stereo WAV) as 8 kHz μ-law. */
function leftChannelMulaw(wav: Buffer): Buffer {
  const { data, channels } = parseWav(wav);
  const frames = Math.floor(data.length / (2 * channels));
  const left = new Int16Array(frames);
  for (let i = 0; i < frames; i++) left[i] = data.readInt16LE(i * channels * 2);
  return encodeMulaw(left);
}

export function renderRecord(r: CallRecord, c: ReturnType<typeof colours>): string {
  const lines: string[] = [];
  const outcome =
    r.outcome.kind === 'failed'
      ? c.red(`failed (${r.outcome.code}): ${r.outcome.reason}`)
      : `${r.outcome.kind}: ${r.outcome.reason}`;
  lines.push(`${c.bold(r.callSid)}${r.simulated ? c.dim(' (simulated)') : ''}`);
  lines.push(`  agent     ${r.agent.name} (${r.agent.model}, file ${r.agent.hash})`);
  lines.push(
    `  from/to   ${r.from ? maskNumber(r.from) : '—'} → ${r.to ? maskNumber(r.to) : '—'}${r.direction === 'outbound' ? ` (outbound${r.answeredBy ? `, answered by a ${r.answeredBy === 'unknown' ? 'person or machine (undetected)' : r.answeredBy}` : ''})` : ''}`,
  );
  lines.push(`  started   ${formatTime(r.startedAt)}, ${duration(r.durationMs)}`);
  lines.push(`  outcome   ${outcome}`);
  const turns = r.latency.turns.map((t) => `${t.ms}`).join(', ');
  lines.push(
    `  latency   greeting ${r.latency.greetingMs ?? '—'} ms; turns ${turns || '—'} ms${r.latency.p50Ms === undefined ? '' : ` (p50 ${r.latency.p50Ms}, max ${r.latency.maxMs})`}`,
  );
  const cost =
    r.cost.total === undefined ? `unknown (${r.cost.note ?? 'no usage'})` : `$${r.cost.total.toFixed(4)}`;
  lines.push(
    `  cost      ${cost}; ${r.usage.responses} responses, tokens in ${r.usage.inputTextTokens} text + ${r.usage.inputAudioTokens} audio, out ${r.usage.outputTextTokens} text + ${r.usage.outputAudioTokens} audio`,
  );
  if (r.reconnects.length)
    lines.push(
      `  reconnects ${r.reconnects.map((x) => `${clock(x.atMs)} ${x.reason} (${x.gapMs} ms gap)`).join('; ')}`,
    );
  if (r.audio)
    lines.push(`  recording ${duration(r.audio.durationMs)} (calls export ${r.callSid} --out DIR)`);
  lines.push('', c.bold('Transcript'));
  if (r.transcript.length === 0) lines.push('  (nothing was transcribed)');
  for (const t of r.transcript) {
    const cut = t.interrupted ? c.yellow(` [cut off after ${t.heardMs} ms]`) : '';
    lines.push(`  ${clock(t.startMs)}  ${t.role === 'caller' ? 'caller' : 'agent '}  ${t.text}${cut}`);
  }
  if (r.toolCalls.length) {
    lines.push('', c.bold('Tool calls'));
    for (const t of r.toolCalls) {
      lines.push(
        `  ${clock(t.atMs)}  ${t.name} ${t.ok ? 'ok' : c.red(t.errorCode ?? 'error')} in ${t.durationMs} ms`,
      );
      lines.push(`            arguments ${t.arguments}`);
      lines.push(`            output    ${t.output.length > 300 ? `${t.output.slice(0, 300)}…` : t.output}`);
    }
  }
  const messages = r.messages ?? [];
  if (messages.length) {
    lines.push('', c.bold('Messages'));
    for (const m of messages) lines.push(`  ${clock(m.atMs)}  ${m.name}, ${m.phone}: ${m.message}`);
  }
  if (r.voicemail) {
    const v = r.voicemail;
    lines.push('', c.bold('Voicemail'));
    if (v.recordingUrl)
      lines.push(`  ${v.recordingUrl}${v.seconds !== undefined ? ` (${v.seconds} s)` : ''}`);
    lines.push(`  ${v.transcript ?? `(transcript: ${v.transcriptStatus ?? 'not yet'})`}`);
  }
  if (r.postCall) {
    lines.push('', c.bold(`Outcome (${r.postCall.model})`));
    if (r.postCall.error) lines.push(`  not available: ${r.postCall.error}`);
    for (const [key, value] of Object.entries(r.postCall.data ?? {}))
      lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  if (r.warnings.length) {
    lines.push('', c.bold('Warnings'));
    for (const w of r.warnings) lines.push(`  ${clock(w.atMs)}  ${w.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** mm:ss.d on the call's timeline. */
function clock(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(1).padStart(4, '0')}`;
}

/** Local time, to the second, with the zone offset (unambiguous in a terminal). */
function formatTime(iso: string): string {
  const d = new Date(iso);
  const offset = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 19).replace('T', ' ');
  const sign = offset >= 0 ? '+' : '-';
  const hh = String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0');
  const mm = String(Math.abs(offset) % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}

function table(head: string[], rows: string[][]): string {
  // width as seen: colour codes take no room
  const ESC = String.fromCharCode(27);
  const visible = (s: string) =>
    s.split(ESC).reduce((n, part, i) => n + (i === 0 ? part.length : part.replace(/^\[\d+m/, '').length), 0);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i]!))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell + ' '.repeat(widths[i]! - visible(cell)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
