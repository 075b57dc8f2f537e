import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ora from 'ora';
import { loadCallerAudio } from '../../audio/caller-audio.js';
import { mulawToWav } from '../../audio/wav.js';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
import type { AgentConfig } from '../../config/schema.js';
import { UsageError, VoiceAgentError } from '../../errors.js';
import { ROUTES } from '../../host/http/routes.js';
import type { CallLog } from '../../lab/simulate/call-log.js';
import { checkExpectations, parseTextExpectation } from '../../lab/simulate/expectations.js';
import { formatReport } from '../../lab/simulate/report-text.js';
import { loadScript } from '../../lab/simulate/script-file.js';
import { runSimulation, type SimulationReport } from '../../lab/simulate/simulation.js';
import { type FetchedRecord, startSimulationTarget } from '../../lab/simulate/target.js';
import { createLogger } from '../../observability/logger.js';
import type { CallRecord } from '../../records/call-record.js';
import { dataDir } from '../../records/open.js';
import { callPage } from '../../records/page/pages.js';
import { type CliIo, canAnimate, colours, printJson } from '../io.js';
import { parseBaseUrl, parseModel, requireEnv } from '../options.js';

export interface SimulateOptions {
  audio?: string[];
  url?: string;
  realtimeUrl?: string;
  speed: string;
  turnGap: string;
  tail: string;
  out?: string;
  expectTool?: string[];
  expectText?: string[];
  json?: boolean;
  dataDir?: string;
  reportHtml?: string;
  model: string;
  script?: string;
}

function positive(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new UsageError(`${flag}: expected a number above 0 and at most ${max}, got "${text}"`);
  return n;
}

export async function simulateCommand(io: CliIo, file: string, options: SimulateOptions): Promise<void> {
  if (!options.audio?.length)
    throw new UsageError('--audio is required: give a recorded caller (.ulaw/.raw μ-law 8 kHz, or .wav)');
  const speed = positive('--speed', options.speed, 20);
  const turnGapS = positive('--turn-gap', options.turnGap, 300);
  const tailS = Number(options.tail);
  if (!Number.isFinite(tailS) || tailS < 0 || tailS > 300)
    throw new UsageError(`--tail: expected 0–300 seconds, got "${options.tail}"`);
  const texts = (options.expectText ?? []).map(parseTextExpectation);
  const model = parseModel(options.model);
  if (options.script && model !== 'local')
    throw new UsageError('--script is for --model local: a real model decides for itself what to say');
  const tools = options.expectTool ?? [];
  const env = environmentWithDotenv(io.cwd, io.env);
  // in-process runs use the agent file's simulation values (e.g. a throwaway database)
  const scratchDir = options.url ? undefined : mkdtempSync(join(tmpdir(), 'voice-agent-sim-'));
  const removeScratch = () => {
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };
  // whatever way the command ends (a bad --audio found later, a failed start), nothing stays behind
  process.once('exit', removeScratch);
  let agent: AgentConfig;
  try {
    ({ agent } = loadAgent(file, {
      cwd: io.cwd,
      env,
      dataDir: dataDir(env, options.dataDir, io.cwd),
      ...(scratchDir ? { simulation: { scratchDir } } : {}),
    }));
  } catch (error) {
    removeScratch();
    throw error;
  }
  const turns = options.audio.map((f) => ({ file: f, audio: loadCallerAudio(resolve(io.cwd, f), f) }));
  const logger = createLogger({ level: 'warn', write: (line) => io.stderr.write(line) });

  let webhookUrl: string;
  let authToken: string | undefined;
  let logOf: ((callSid: string) => Promise<CallLog | undefined>) | undefined;
  let busy: (() => boolean) | undefined;
  let close = async () => {};
  /** The latest tool call of an in-process call, for the progress line. */
  let lastTool: string | undefined;
  /** The call's record (and recording): from our own records, or the remote server's API. */
  let recordOf: ((callSid: string) => Promise<FetchedRecord | undefined>) | undefined;
  // fail before dialling, not after a whole call, when a result cannot be written
  for (const [flag, path] of [
    ['--out', options.out],
    ['--report-html', options.reportHtml],
  ] as const)
    if (path) checkWritable(flag, resolve(io.cwd, path));
  if (options.url) {
    if (tools.length || texts.length) {
      throw new UsageError(
        '--expect-tool and --expect-text need the in-process server: the transcript of a remote server is not visible to a caller',
      );
    }
    authToken = requireEnv(env, 'TWILIO_AUTH_TOKEN', '--url needs it to sign requests the way Twilio does');
    const base = parseBaseUrl('--url', options.url);
    webhookUrl = base + ROUTES.incoming;
    const adminToken = env.VOICE_AGENT_ADMIN_TOKEN;
    if (adminToken) recordOf = (callSid) => fetchRemoteRecord(base, callSid, adminToken);
    else if (options.reportHtml)
      throw new UsageError(
        '--report-html with --url needs VOICE_AGENT_ADMIN_TOKEN: the call record is read from the server it called',
      );
  } else {
    const target = await startSimulationTarget({
      agent,
      env,
      logger,
      model,
      script: options.script ? loadScript(resolve(io.cwd, options.script), options.script) : undefined,
      realtimeUrl: resolveModelUrl(agent, env, options.realtimeUrl),
      dataDir: agent.records.enabled ? dataDir(env, options.dataDir, io.cwd) : undefined,
      recordsInMemory: Boolean(options.reportHtml),
      onCallEvent: (_sid, event) => {
        if (event.type === 'tool_call')
          lastTool = `${event.name} (${event.ok ? 'ok' : 'error'}, ${event.durationMs} ms)`;
      },
    });
    ({ webhookUrl, authToken, logOf, recordOf } = target);
    busy = () => target.busy();
    close = async () => {
      await target.close();
      removeScratch();
    };
  }

  // a live call clock on a terminal only; pipes and --json get nothing on stderr
  const spinner =
    canAnimate(io) && !options.json
      ? ora({ stream: process.stderr, color: colours(io, 'stderr').on ? 'cyan' : false }).start('dialling…')
      : { text: '', stop() {} };
  let report: SimulationReport;
  let fetched: FetchedRecord | undefined;
  let agentAudio: Buffer;
  try {
    ({ report, agentAudio } = await runSimulation({
      webhookUrl,
      authToken,
      turns,
      speed,
      turnGapS,
      tailS,
      expectGreeting: options.url ? 'maybe' : Boolean(agent.greeting),
      logOf,
      busy,
      onProgress: ({ callMs, turn, turns: total, speaking }) => {
        const who =
          speaking === 'caller' ? 'caller speaking' : speaking === 'agent' ? 'agent speaking' : 'quiet';
        spinner.text = `call ${(callMs / 1000).toFixed(1)} s · turn ${turn}/${total} · ${who}${lastTool ? ` · last tool: ${lastTool}` : ''}`;
      },
    }));
    fetched = await recordOf?.(report.call_sid).catch((error: Error) => {
      io.stderr.write(`warning: could not read the call's record: ${error.message}\n`);
      return undefined;
    });
  } finally {
    spinner.stop();
    await close();
  }

  if (fetched && options.url) fillFromRecord(report, fetched.record);
  report.problems.push(...checkExpectations(report, { tools, texts }));
  if (options.reportHtml) {
    if (!fetched) throw new UsageError('--report-html: the call left no record to render');
    const audioSrc = fetched.wav ? `data:audio/wav;base64,${fetched.wav.toString('base64')}` : undefined;
    writeFileSync(resolve(io.cwd, options.reportHtml), callPage(fetched.record, { audioSrc }));
  }
  report.ok = report.problems.length === 0;
  if (options.out) {
    try {
      writeFileSync(resolve(io.cwd, options.out), mulawToWav(agentAudio));
    } catch (error) {
      throw new UsageError(`--out ${options.out}: ${(error as Error).message}`);
    }
  }
  const full = {
    agent: agent.name,
    target: options.url ?? 'in-process',
    ...report,
    audio_file: options.out ?? null,
  };
  if (options.json) printJson(io, full);
  else {
    io.stdout.write(formatReport(report));
    if (options.out) io.stdout.write(`Agent audio written to ${options.out}\n`);
    if (options.reportHtml) io.stdout.write(`Call page written to ${options.reportHtml}\n`);
    if (fetched && !options.url) io.stdout.write(`Record: voice-agent calls show ${report.call_sid}\n`);
  }
  if (!report.ok) {
    const c = colours(io, 'stderr');
    throw new VoiceAgentError(
      'simulation_failed',
      `${c.bold('simulation failed')}: ${report.problems.join('; ')}`,
    );
  }
}

/** A result path must be in a directory that exists, and not be a directory itself. */
function checkWritable(flag: string, path: string): void {
  const parent = dirname(path);
  if (!existsSync(parent) || !statSync(parent).isDirectory())
    throw new UsageError(`${flag} ${path}: the directory ${parent} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`${flag} ${path}: that is a directory; give a file name`);
}

/** The record of a call a remote server took, once it has ended (its API, with the admin token). */
async function fetchRemoteRecord(
  base: string,
  callSid: string,
  token: string,
): Promise<FetchedRecord | undefined> {
  const headers = { authorization: `Bearer ${token}` };
  for (let attempt = 0; attempt < 25; attempt++) {
    const res = await fetch(`${base}/api/calls/${encodeURIComponent(callSid)}`, { headers });
    if (res.status === 401) throw new Error('the server refused VOICE_AGENT_ADMIN_TOKEN');
    if (res.ok) {
      const record = (await res.json()) as CallRecord;
      if (record.outcome.kind !== 'in_progress' && (record.audio || attempt > 5)) {
        const audio = record.audio
          ? await fetch(`${base}/calls/${encodeURIComponent(callSid)}/audio.wav`, { headers })
          : undefined;
        return { record, wav: audio?.ok ? Buffer.from(await audio.arrayBuffer()) : undefined };
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/** What a remote caller cannot see itself, from the server's record: transcript and tool calls. */
function fillFromRecord(report: SimulationReport, record: CallRecord): void {
  if (report.transcript.length === 0)
    report.transcript = record.transcript.map((l) => ({
      at_ms: l.startMs,
      role: l.role,
      text: l.text,
      ...(l.interrupted ? { interrupted: true, heard_ms: l.heardMs } : {}),
    }));
  if (report.tool_calls.length === 0)
    report.tool_calls = record.toolCalls.map((t) => ({
      at_ms: t.atMs,
      name: t.name,
      arguments: t.arguments,
      output: t.output,
      duration_ms: t.durationMs,
    }));
}
