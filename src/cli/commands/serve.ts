import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { createLogger, type LogLevel } from '../../observability/logger.js';
import { startAgentRuntime } from '../../server/agent-runtime.js';
import { type CliIo, colours } from '../io.js';
import { notImplemented } from '../program.js';
import { resolveRealtimeUrl, waitForShutdownSignal } from '../runtime.js';

export interface ServeOptions {
  port: string;
  host: string;
  publicUrl?: string;
  realtimeUrl?: string;
  insecureSkipSignature?: boolean;
  tunnel?: boolean;
  configureNumber?: string | boolean;
  drainTimeout: string;
  logLevel: string;
  jsonLogs?: boolean;
}

function requireEnv(env: Readonly<Record<string, string | undefined>>, name: string, why: string): string {
  const value = env[name];
  if (!value)
    throw new UsageError(`${name} is not set: ${why}. Set it in the environment or in .env.`, 'missing_env');
  return value;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: expected 0–65535, got "${text}"`);
  return port;
}

export async function serveCommand(io: CliIo, file: string, options: ServeOptions): Promise<void> {
  if (options.tunnel) notImplemented('serve --tunnel');
  if (options.configureNumber) notImplemented('serve --configure-number');
  const env = environmentWithDotenv(io.cwd, io.env);
  const { agent, warnings } = loadAgent(file, { cwd: io.cwd, env });
  const port = parsePort(options.port);
  if (!['debug', 'info', 'warn', 'error'].includes(options.logLevel)) {
    throw new UsageError(`--log-level: expected debug, info, warn or error, got "${options.logLevel}"`);
  }
  const openaiApiKey = requireEnv(
    env,
    'OPENAI_API_KEY',
    'the agent needs it to reach the OpenAI Realtime API',
  );
  const twilioAuthToken = options.insecureSkipSignature
    ? (env.TWILIO_AUTH_TOKEN ?? '')
    : requireEnv(env, 'TWILIO_AUTH_TOKEN', 'it is needed to check that webhooks really come from Twilio');
  const logger = createLogger({
    level: options.logLevel as LogLevel,
    json: options.jsonLogs,
    write: (line) => io.stderr.write(line),
  });
  for (const w of warnings) logger.warn({ path: w.path, line: w.line }, w.message);
  const c = colours(io, 'stderr');
  if (options.insecureSkipSignature) {
    io.stderr.write(
      `${c.red('WARNING: --insecure-skip-signature is on.')} Anyone who finds this server can place calls on your OpenAI key.\n` +
        'Use it only for local experiments, never on a public URL.\n',
    );
  }

  const runtime = await startAgentRuntime({
    agent,
    logger,
    host: options.host,
    port,
    publicUrl: options.publicUrl,
    realtimeUrl: resolveRealtimeUrl(agent, env, options.realtimeUrl),
    openaiApiKey,
    twilioAuthToken,
    insecureSkipSignature: options.insecureSkipSignature,
    twilioRest: env.TWILIO_ACCOUNT_SID
      ? { accountSid: env.TWILIO_ACCOUNT_SID, apiBaseUrl: env.TWILIO_API_BASE_URL }
      : undefined,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') {
      throw new UsageError(`port ${port} is already in use: choose another with --port`);
    }
    throw error;
  });
  const { server } = runtime;

  io.stdout.write(
    `${c.green('voice-agent')} ${agent.name} is listening on ${server.localUrl}\n` +
      `  Twilio voice webhook (POST): ${server.webhookUrl}\n` +
      `  Media stream:                ${server.streamUrl}\n` +
      (options.publicUrl
        ? ''
        : `  ${c.yellow('No --public-url given:')} Twilio cannot reach this address; use --public-url or --tunnel.\n`),
  );
  const signal = await waitForShutdownSignal();
  logger.info({ signal }, 'shutting down');
  await server.drain(Number(options.drainTimeout) * 1000);
  await runtime.close();
}
