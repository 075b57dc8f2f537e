import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ora from 'ora';
import { loadCallerAudio } from '../../audio/caller-audio.js';
import { mulawToWav } from '../../audio/wav.js';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { UsageError, VoiceAgentError } from '../../errors.js';
import { createLogger } from '../../observability/logger.js';
import { dataDir, openCallRecords } from '../../records/open.js';
import { startAgentRuntime } from '../../server/agent-runtime.js';
import { ROUTES } from '../../server/routes.js';
import { CallLog } from '../../simulate/call-log.js';
import { checkExpectations, parseTextExpectation } from '../../simulate/expectations.js';
import { formatReport } from '../../simulate/report-text.js';
import { runSimulation, type SimulationReport } from '../../simulate/simulation.js';
import { type CliIo, colours, printJson } from '../io.js';
import { parseBaseUrl, requireEnv } from '../options.js';
import { resolveRealtimeUrl } from '../runtime.js';

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
  const tools = options.expectTool ?? [];
  const env = environmentWithDotenv(io.cwd, io.env);
  const { agent } = loadAgent(file, { cwd: io.cwd, env });
  const turns = options.audio.map((f) => ({ file: f, audio: loadCallerAudio(resolve(io.cwd, f), f) }));
  const logger = createLogger({ level: 'warn', write: (line) => io.stderr.write(line) });

  let webhookUrl: string;
  let authToken: string | undefined;
  let logOf: ((callSid: string) => Promise<CallLog | undefined>) | undefined;
  let close = async () => {};
  if (options.url) {
    if (tools.length || texts.length) {
      throw new UsageError(
        '--expect-tool and --expect-text need the in-process server: the transcript of a remote server is not visible to a caller',
      );
    }
    authToken = requireEnv(env, 'TWILIO_AUTH_TOKEN', '--url needs it to sign requests the way Twilio does');
    const base = parseBaseUrl('--url', options.url);
    webhookUrl = base + ROUTES.incoming;
  } else {
    const openaiApiKey = requireEnv(
      env,
      'OPENAI_API_KEY',
      'the in-process agent needs it to reach the Realtime API',
    );
    authToken = randomBytes(24).toString('hex'); // in-process: signatures are still checked, with a throwaway token
    // each call's report comes from its event stream, complete once it has ended
    const logs = new Map<string, CallLog>();
    const ended = new Set<string>();
    const waiters = new Map<string, (log: CallLog) => void>();
    const runtime = await startAgentRuntime({
      agent,
      logger,
      host: '127.0.0.1',
      port: 0,
      realtimeUrl: resolveRealtimeUrl(agent, env, options.realtimeUrl),
      openaiApiKey,
      twilioAuthToken: authToken,
      records: openCallRecords({
        agent,
        dir: dataDir(env, options.dataDir, io.cwd),
        logger,
        simulated: true,
      }),
      onCallEvent: (callSid, event) => {
        const log = logs.get(callSid) ?? new CallLog();
        logs.set(callSid, log);
        log.add(event);
        if (event.type === 'ended') {
          ended.add(callSid);
          waiters.get(callSid)?.(log);
        }
      },
    });
    // a simulated call starts at once: give it the tools a real caller would find (bounded)
    await runtime.toolsSettled;
    webhookUrl = runtime.server.webhookUrl;
    logOf = (callSid) =>
      ended.has(callSid)
        ? Promise.resolve(logs.get(callSid))
        : new Promise((resolveLog) => {
            const timer = setTimeout(() => resolveLog(undefined), 5_000);
            timer.unref();
            waiters.set(callSid, (log) => {
              clearTimeout(timer);
              resolveLog(log);
            });
          });
    close = () => runtime.close();
  }

  // a live call clock on a terminal only; pipes and --json get nothing on stderr
  const spinner =
    io.stderr.isTTY && !options.json
      ? ora({ stream: process.stderr }).start('dialling…')
      : { text: '', stop() {} };
  let report: SimulationReport;
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
      onProgress: ({ callMs, turn, turns: total }) => {
        spinner.text = `call ${(callMs / 1000).toFixed(1)} s — turn ${turn}/${total}`;
      },
    }));
  } finally {
    spinner.stop();
    await close();
  }

  report.problems.push(...checkExpectations(report, { tools, texts }));
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
  }
  if (!report.ok) {
    const c = colours(io, 'stderr');
    throw new VoiceAgentError(
      'simulation_failed',
      `${c.bold('simulation failed')}: ${report.problems.join('; ')}`,
    );
  }
}
