import cluster from 'node:cluster';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
import { databaseUrlOf } from '../../db/open.js';
import { UsageError, VoiceAgentError } from '../../errors.js';
import { type Serving, startServe } from '../../host/serve.js';
import { parseWorkers } from '../../host/workers.js';
import { createLogger, type Logger, type LogLevel } from '../../observability/logger.js';
import { dataDir } from '../../records/open.js';
import { tunnelProviderFromEnv } from '../../tunnel/index.js';
import { type CliIo, colours } from '../io.js';
import { parsePort, parsePublicUrl, requireEnv } from '../options.js';
import { waitForShutdownSignal } from '../runtime.js';
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
  const env = environmentWithDotenv(io.cwd, io.env);
  const options = serveOptionsWithEnv(flags, env, fromFlag);
  const file = fileArg ?? env.VOICE_AGENT_FILE;
  if (!file)
    throw new UsageError(
      'give the agent file: voice-agent serve agents/moving.yaml (or set VOICE_AGENT_FILE)',
    );
  const dir = dataDir(env, options.dataDir, io.cwd);
  const { agent, warnings } = loadAgent(file, { cwd: io.cwd, env, dataDir: dir });
  const port = parsePort(options.port);
  const drainMs = parseDrainTimeout(options.drainTimeout);
  if (!['debug', 'info', 'warn', 'error'].includes(options.logLevel))
    throw new UsageError(`--log-level: expected debug, info, warn or error, got "${options.logLevel}"`);
  if (options.tunnel && options.publicUrl)
    throw new UsageError('--tunnel and --public-url both set the public URL: choose one');
  const openaiApiKey = requireEnv(
    env,
    'OPENAI_API_KEY',
    'the agent needs it to reach the OpenAI Realtime API',
  );
  const twilioAuthToken = options.insecureSkipSignature
    ? (env.TWILIO_AUTH_TOKEN ?? '')
    : requireEnv(env, 'TWILIO_AUTH_TOKEN', 'it is needed to check that webhooks really come from Twilio');
  const adminToken = env.VOICE_AGENT_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 16)
    throw new UsageError(
      'VOICE_AGENT_ADMIN_TOKEN is too short to guard call records: use at least 16 random characters (e.g. openssl rand -hex 16)',
    );
  const number =
    options.configureNumber === undefined || options.configureNumber === false
      ? undefined
      : typeof options.configureNumber === 'string'
        ? options.configureNumber
        : agent.twilio.phone_number;
  if (options.configureNumber && !number)
    throw new UsageError(`--configure-number: give a number, or set twilio.phone_number in ${file}`);
  const workers = cluster.isWorker ? 1 : parseWorkers(options.workers);
  const rootLogger = createLogger({
    level: options.logLevel as LogLevel,
    json: options.jsonLogs,
    write: (line) => io.stderr.write(line),
  });
  const logger = cluster.isWorker ? rootLogger.child({ worker: cluster.worker?.id }) : rootLogger;
  for (const w of warnings) logger.warn({ path: w.path, line: w.line }, w.message);
  /** With --json-logs every line is a JSON log line: steps and the banner become log entries. */
  const jsonLog = options.jsonLogs ? logger : undefined;
  if (options.insecureSkipSignature && !cluster.isWorker) warnInsecure(io, jsonLog);

  const serving = await startServe({
    agent,
    logger,
    dataDir: dir,
    port,
    host: options.host ?? (options.tunnel ? '127.0.0.1' : '0.0.0.0'),
    ...(options.publicUrl === undefined ? {} : { publicUrl: parsePublicUrl(options.publicUrl) }),
    ...(options.tunnel ? { tunnel: tunnelProviderFromEnv(env) } : {}),
    realtimeUrl: resolveModelUrl(agent, env, options.realtimeUrl),
    openaiApiKey,
    twilioAuthToken,
    insecureSkipSignature: options.insecureSkipSignature,
    adminToken,
    responsesUrl: env.OPENAI_RESPONSES_URL,
    twilioRest: env.TWILIO_ACCOUNT_SID
      ? { accountSid: env.TWILIO_ACCOUNT_SID, apiBaseUrl: env.TWILIO_API_BASE_URL }
      : undefined,
    databaseUrl: databaseUrlOf(env),
    workers,
    ...(options.metricsPort === undefined
      ? {}
      : { metrics: { port: parsePort(options.metricsPort, '--metrics-port'), host: options.metricsHost } }),
    ...(number && !cluster.isWorker ? { number: { e164: number, ...twilioFromEnv(env) } } : {}),
    preflight: !options.skipPreflight,
    secret: env.VOICE_AGENT_SECRET,
    steps: (text, run, outcome) => step(io, text, run, outcome, jsonLog),
  });
  try {
    if (serving.role === 'worker') {
      await serving.followPrimary(drainMs);
      return;
    }
    printBanner(io, jsonLog, serving, {
      agent: agent.name,
      number,
      reachable: Boolean(options.publicUrl || options.tunnel),
    });
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

function parseDrainTimeout(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UsageError(`--drain-timeout: expected seconds, got "${text}"`);
  return seconds * 1000;
}

function warnInsecure(io: CliIo, jsonLog: Logger | undefined): void {
  if (jsonLog) {
    jsonLog.warn(
      '--insecure-skip-signature is on: anyone who finds this server can place calls on your OpenAI key; never use it on a public URL',
    );
    return;
  }
  const c = colours(io, 'stderr');
  io.stderr.write(
    `${c.red('WARNING: --insecure-skip-signature is on.')} Anyone who finds this server can place calls on your OpenAI key.\n` +
      'Use it only for local experiments, never on a public URL.\n',
  );
}

/** Where Twilio should send calls, and what else is served: a log entry with --json-logs. */
function printBanner(
  io: CliIo,
  jsonLog: Logger | undefined,
  s: Serving,
  o: { agent: string; number: string | undefined; reachable: boolean },
): void {
  if (jsonLog) {
    jsonLog.info(
      {
        agent: o.agent,
        address: s.boundAddress,
        ...(s.workers ? { workers: s.workers } : {}),
        webhookUrl: s.webhookUrl,
        streamUrl: s.streamUrl,
        ...(o.number ? { number: o.number } : {}),
        ...(s.metricsUrl ? { metricsUrl: s.metricsUrl } : {}),
        ...(s.callsUrl ? { callsUrl: s.callsUrl } : {}),
        ...(o.reachable ? {} : { warning: 'no --public-url: Twilio cannot reach this address' }),
      },
      'listening',
    );
    return;
  }
  const c = colours(io, 'stderr');
  io.stdout.write(
    `${c.green('voice-agent')} ${o.agent} is listening on ${s.boundAddress}${s.workers ? ` (${s.workers} workers)` : ''}\n` +
      `  Twilio voice webhook (POST): ${s.webhookUrl}\n` +
      `  Media stream:                ${s.streamUrl}\n` +
      (s.callsUrl ? `  Calls page:                  ${s.callsUrl}\n` : '') +
      (s.metricsUrl ? `  Metrics:                     ${s.metricsUrl}\n` : '') +
      (o.number ? `  Call ${o.number} to talk to the agent; its webhook points here until you stop.\n` : '') +
      (o.reachable
        ? ''
        : `  ${c.yellow('No --public-url given:')} Twilio cannot reach this address; use --public-url or --tunnel.\n`),
  );
}
