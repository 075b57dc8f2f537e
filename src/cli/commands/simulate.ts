import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ora from 'ora';
import { loadCallerAudio } from '../../audio/caller-audio.js';
import { mulawToWav } from '../../audio/wav.js';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
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
  const settings = simulationSettings(io, file, options);
  const { agent } = settings;
  let target: CallTarget;
  try {
    target = options.url
      ? remoteTarget(settings, options.url, options)
      : await inProcessTarget(settings, options);
  } catch (error) {
    settings.removeScratch();
    throw error;
  }
  const { report, agentAudio, fetched } = await dial(io, settings, target, options);
  if (fetched && options.url) fillFromRecord(report, fetched.record);
  report.problems.push(...checkExpectations(report, { tools: settings.tools, texts: settings.texts }));
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
  if (options.json)
    printJson(io, {
      agent: agent.name,
      target: options.url ?? 'in-process',
      ...report,
      audio_file: options.out ?? null,
    });
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

type SimulationSettings = ReturnType<typeof simulationSettings>;

/** The flags checked, the agent loaded (with its simulation values) and the caller's audio read. */
function simulationSettings(io: CliIo, file: string, options: SimulateOptions) {
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
  const env = environmentWithDotenv(io.cwd, io.env);
  // in-process runs use the agent file's simulation values (e.g. a throwaway database)
  const scratchDir = options.url ? undefined : mkdtempSync(join(tmpdir(), 'voice-agent-sim-'));
  const removeScratch = () => {
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  };
  // whatever way the command ends (a bad --audio found later, a failed start), nothing stays behind
  process.once('exit', removeScratch);
  try {
    const { agent } = loadAgent(file, {
      cwd: io.cwd,
      env,
      dataDir: dataDir(env, options.dataDir, io.cwd),
      ...(scratchDir ? { simulation: { scratchDir } } : {}),
    });
    const turns = options.audio.map((f) => ({ file: f, audio: loadCallerAudio(resolve(io.cwd, f), f) }));
    // fail before dialling, not after a whole call, when a result cannot be written
    for (const [flag, path] of [
      ['--out', options.out],
      ['--report-html', options.reportHtml],
    ] as const)
      if (path) checkWritable(flag, resolve(io.cwd, path));
    return {
      io,
      agent,
      env,
      turns,
      speed,
      turnGapS,
      tailS,
      texts,
      tools: options.expectTool ?? [],
      model,
      removeScratch,
    };
  } catch (error) {
    removeScratch();
    throw error;
  }
}

/** Where the simulated caller dials, and how the call is read back afterwards. */
interface CallTarget {
  webhookUrl: string;
  authToken: string | undefined;
  logOf?: (callSid: string) => Promise<CallLog | undefined>;
  busy?: () => boolean;
  recordOf?: (callSid: string) => Promise<FetchedRecord | undefined>;
  /** The latest tool call of an in-process call, for the progress line. */
  lastTool(): string | undefined;
  close(): Promise<void>;
}

/** A server somewhere else (`--url`): signed like Twilio; its record read through its API with the admin token. */
function remoteTarget(settings: SimulationSettings, url: string, options: SimulateOptions): CallTarget {
  const { env } = settings;
  if (settings.tools.length || settings.texts.length)
    throw new UsageError(
      '--expect-tool and --expect-text need the in-process server: the transcript of a remote server is not visible to a caller',
    );
  const authToken = requireEnv(
    env,
    'TWILIO_AUTH_TOKEN',
    '--url needs it to sign requests the way Twilio does',
  );
  const base = parseBaseUrl('--url', url);
  const adminToken = env.VOICE_AGENT_ADMIN_TOKEN;
  if (!adminToken && options.reportHtml)
    throw new UsageError(
      '--report-html with --url needs VOICE_AGENT_ADMIN_TOKEN: the call record is read from the server it called',
    );
  return {
    webhookUrl: base + ROUTES.incoming,
    authToken,
    ...(adminToken ? { recordOf: (callSid: string) => fetchRemoteRecord(base, callSid, adminToken) } : {}),
    lastTool: () => undefined,
    close: async () => {},
  };
}

/** The agent served in this process, on the local stand-in or the real Realtime API. */
async function inProcessTarget(settings: SimulationSettings, options: SimulateOptions): Promise<CallTarget> {
  const { io, agent, env } = settings;
  let lastTool: string | undefined;
  const target = await startSimulationTarget({
    agent,
    env,
    logger: createLogger({ level: 'warn', write: (line) => io.stderr.write(line) }),
    model: settings.model,
    script: options.script ? loadScript(resolve(io.cwd, options.script), options.script) : undefined,
    realtimeUrl: resolveModelUrl(agent, env, options.realtimeUrl),
    dataDir: agent.records.enabled ? dataDir(env, options.dataDir, io.cwd) : undefined,
    recordsInMemory: Boolean(options.reportHtml),
    onCallEvent: (_sid, event) => {
      if (event.type === 'tool_call')
        lastTool = `${event.name} (${event.ok ? 'ok' : (event.code ?? 'error')}, ${event.durationMs} ms)`;
    },
  });
  return {
    webhookUrl: target.webhookUrl,
    authToken: target.authToken,
    logOf: target.logOf,
    busy: () => target.busy(),
    ...(target.recordOf ? { recordOf: target.recordOf } : {}),
    lastTool: () => lastTool,
    close: async () => {
      await target.close();
      settings.removeScratch();
    },
  };
}

/** The call itself, with a live clock on a terminal; then its record, if it left one. */
async function dial(io: CliIo, settings: SimulationSettings, target: CallTarget, options: SimulateOptions) {
  // a live call clock on a terminal only; pipes and --json get nothing on stderr
  const spinner =
    canAnimate(io) && !options.json
      ? ora({ stream: process.stderr, color: colours(io, 'stderr').on ? 'cyan' : false }).start('dialling…')
      : { text: '', stop() {} };
  try {
    const { report, agentAudio } = await runSimulation({
      webhookUrl: target.webhookUrl,
      authToken: target.authToken,
      turns: settings.turns,
      speed: settings.speed,
      turnGapS: settings.turnGapS,
      tailS: settings.tailS,
      expectGreeting: options.url ? 'maybe' : Boolean(settings.agent.greeting),
      logOf: target.logOf,
      busy: target.busy,
      onProgress: ({ callMs, turn, turns: total, speaking }) => {
        const who =
          speaking === 'caller' ? 'caller speaking' : speaking === 'agent' ? 'agent speaking' : 'quiet';
        const tool = target.lastTool();
        spinner.text = `call ${(callMs / 1000).toFixed(1)} s · turn ${turn}/${total} · ${who}${tool ? ` · last tool: ${tool}` : ''}`;
      },
    });
    const fetched = await target.recordOf?.(report.call_sid).catch((error: Error) => {
      io.stderr.write(`warning: could not read the call's record: ${error.message}\n`);
      return undefined;
    });
    return { report, agentAudio, fetched };
  } finally {
    spinner.stop();
    await target.close();
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
