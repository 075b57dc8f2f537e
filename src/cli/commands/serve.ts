import cluster from 'node:cluster';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
import { databaseUrlOf } from '../../db/open.js';
import { UsageError, VoiceAgentError } from '../../errors.js';
import { type ServeOptions, startServe } from '../../host/serve.js';
import { parseWorkers } from '../../host/workers.js';
import { createLogger, type LogLevel } from '../../observability/logger.js';
import { dataDir } from '../../records/open.js';
import { tunnelProviderFromEnv } from '../../tunnel/index.js';
import type { CliIo } from '../io.js';
import { parsePort, parsePublicUrl, requireEnv } from '../options.js';
import { waitForShutdownSignal } from '../runtime.js';
import { printBanner, warnInsecure } from '../serve-banner.js';
import { type ServeFlags, serveOptionsWithEnv } from '../serve-env.js';
import { step } from '../steps.js';
import { twilioFromEnv } from '../twilio-env.js';

/**
 * serve: flags and environment → {@link startServe}, then the banner; on SIGINT/SIGTERM stop taking
 * calls, let active ones finish (up to --drain-timeout), put the number back, close everything, exit
 * 0. A second signal exits at once. A fatal error (the tunnel dies) also restores the number before
 * exiting 1.
 */
export async function serveCommand(
  io: CliIo,
  fileArg: string | undefined,
  flags: ServeFlags,
  fromFlag: (name: keyof ServeFlags) => boolean = () => true,
): Promise<void> {
  const { options, drainMs, logger, jsonLog, number, reachable } = serveSettings(
    io,
    fileArg,
    flags,
    fromFlag,
  );
  if (options.insecureSkipSignature && !cluster.isWorker) warnInsecure(io, jsonLog);
  const serving = await startServe({
    ...options,
    steps: (text, run, outcome) => step(io, text, run, outcome, jsonLog),
  });
  try {
    if (serving.role === 'worker') {
      await serving.followPrimary(drainMs);
      return;
    }
    printBanner(io, jsonLog, serving, { agent: options.agent.name, number, reachable });
    const outcome = await Promise.race([
      waitForShutdownSignal().then((signal) => ({ kind: 'signal' as const, signal })),
      serving.tunnelClosed.then((reason) => ({ kind: 'tunnel' as const, reason })),
    ]);
    if (outcome.kind === 'tunnel')
      throw new VoiceAgentError(
        'tunnel_closed',
        `${outcome.reason}; stopping (Twilio can no longer reach this server)`,
      );
    logger.info(
      {
        signal: outcome.signal,
        ...(serving.workers ? { workers: serving.workers } : { activeCalls: serving.activeCalls }),
      },
      'shutting down: new calls get the fallback',
    );
    await serving.drain(drainMs);
  } finally {
    await serving.close();
  }
}

/** Flags, environment and `.env` → what {@link startServe} takes; every mistake is a usage error. */
function serveSettings(
  io: CliIo,
  fileArg: string | undefined,
  flags: ServeFlags,
  fromFlag: (name: keyof ServeFlags) => boolean,
) {
  const env = environmentWithDotenv(io.cwd, io.env);
  const flagsAndEnv = serveOptionsWithEnv(flags, env, fromFlag);
  const file = fileArg ?? env.VOICE_AGENT_FILE;
  if (!file)
    throw new UsageError(
      'give the agent file: voice-agent serve agents/moving.yaml (or set VOICE_AGENT_FILE)',
    );
  const dir = dataDir(env, flagsAndEnv.dataDir, io.cwd);
  const { agent, warnings } = loadAgent(file, { cwd: io.cwd, env, dataDir: dir });
  const o = flagsAndEnv;
  const port = parsePort(o.port);
  const drainMs = parseDrainTimeout(o.drainTimeout);
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel))
    throw new UsageError(`--log-level: expected debug, info, warn or error, got "${o.logLevel}"`);
  if (o.tunnel && o.publicUrl)
    throw new UsageError('--tunnel and --public-url both set the public URL: choose one');
  const openaiApiKey = requireEnv(
    env,
    'OPENAI_API_KEY',
    'the agent needs it to reach the OpenAI Realtime API',
  );
  const twilioAuthToken = o.insecureSkipSignature
    ? (env.TWILIO_AUTH_TOKEN ?? '')
    : requireEnv(env, 'TWILIO_AUTH_TOKEN', 'it is needed to check that webhooks really come from Twilio');
  const adminToken = env.VOICE_AGENT_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16)
    throw new UsageError(
      'VOICE_AGENT_ADMIN_TOKEN is too short to guard call records: use at least 16 random characters (e.g. openssl rand -hex 16)',
    );
  const number =
    o.configureNumber === undefined || o.configureNumber === false
      ? undefined
      : typeof o.configureNumber === 'string'
        ? o.configureNumber
        : agent.twilio.phone_number;
  if (o.configureNumber && !number)
    throw new UsageError(`--configure-number: give a number, or set twilio.phone_number in ${file}`);
  const rootLogger = createLogger({
    level: o.logLevel as LogLevel,
    json: o.jsonLogs,
    write: (line) => io.stderr.write(line),
  });
  const logger = cluster.isWorker ? rootLogger.child({ worker: cluster.worker?.id }) : rootLogger;
  for (const w of warnings) logger.warn({ path: w.path, line: w.line }, w.message);
  const options: ServeOptions = {
    agent,
    logger,
    dataDir: dir,
    port,
    host: o.host ?? (o.tunnel ? '127.0.0.1' : '0.0.0.0'),
    ...(o.publicUrl === undefined ? {} : { publicUrl: parsePublicUrl(o.publicUrl) }),
    ...(o.tunnel ? { tunnel: tunnelProviderFromEnv(env) } : {}),
    realtimeUrl: resolveModelUrl(agent, env, o.realtimeUrl),
    openaiApiKey,
    twilioAuthToken,
    insecureSkipSignature: o.insecureSkipSignature,
    adminToken,
    responsesUrl: env.OPENAI_RESPONSES_URL,
    twilioRest: env.TWILIO_ACCOUNT_SID
      ? { accountSid: env.TWILIO_ACCOUNT_SID, apiBaseUrl: env.TWILIO_API_BASE_URL }
      : undefined,
    databaseUrl: databaseUrlOf(env),
    workers: cluster.isWorker ? 1 : parseWorkers(o.workers),
    ...(o.metricsPort === undefined
      ? {}
      : { metrics: { port: parsePort(o.metricsPort, '--metrics-port'), host: o.metricsHost } }),
    ...(number && !cluster.isWorker ? { number: { e164: number, ...twilioFromEnv(env) } } : {}),
    preflight: !o.skipPreflight,
    secret: env.VOICE_AGENT_SECRET,
  };
  /** With --json-logs every line is a JSON log line: steps and the banner become log entries. */
  const jsonLog = o.jsonLogs ? logger : undefined;
  return { options, drainMs, logger, jsonLog, number, reachable: Boolean(o.publicUrl || o.tunnel) };
}

function parseDrainTimeout(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UsageError(`--drain-timeout: expected seconds, got "${text}"`);
  return seconds * 1000;
}
