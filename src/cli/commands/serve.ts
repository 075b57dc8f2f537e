import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { resolveModelUrl } from '../../config/model-url.js';
import { connectPostgres, databaseUrlOf } from '../../db/open.js';
import { SqliteSql } from '../../db/sqlite.js';
import { PeerError, UsageError, VoiceAgentError } from '../../errors.js';
import { type AgentRuntime, startAgentRuntime } from '../../host/agent-runtime.js';
import { instanceId, SharedCalls } from '../../host/calls/shared-calls.js';
import { streamTokenKey } from '../../host/calls/stream-token.js';
import { CallMetrics, startMetricsServer } from '../../host/metrics.js';
import { guardModels, noticesFromEnv } from '../model-guard.js';
import {
  followPrimary,
  parseWorkers,
  shareMetrics,
  startWorkers,
  type WorkerPool,
} from '../../host/workers.js';
import { checkRealtime } from '../../model/openai/preflight.js';
import { createLogger, type LogLevel } from '../../observability/logger.js';
import { dataDir, openCallRecords } from '../../records/open.js';
import { PostgresCallStore } from '../../records/postgres-store.js';
import { pricingFor } from '../../records/pricing.js';
import { CallWebhooks } from '../../records/webhooks.js';
import { configureNumber, restoreNumber } from '../../telephony/twilio/configure.js';
import { toolCountWarning } from '../../tools/tool-count.js';
import { type Tunnel, tunnelProviderFromEnv } from '../../tunnel/index.js';
import { selfTestTunnel } from '../../tunnel/self-test.js';
import { type CliIo, colours } from '../io.js';
import { parseBaseUrl, requireEnv } from '../options.js';
import { waitForShutdownSignal } from '../runtime.js';
import { serveOptionsWithEnv } from '../serve-env.js';
import { step } from '../steps.js';
import { twilioFromEnv } from '../twilio-env.js';

export interface ServeOptions {
  port: string;
  host?: string;
  publicUrl?: string;
  realtimeUrl?: string;
  insecureSkipSignature?: boolean;
  tunnel?: boolean;
  configureNumber?: string | boolean;
  drainTimeout: string;
  logLevel: string;
  jsonLogs?: boolean;
  skipPreflight?: boolean;
  dataDir?: string;
  metricsPort?: string;
  metricsHost: string;
  workers: string;
}

/** `--public-url`: https, since Twilio opens media streams only over wss (http only for loopback tests). */
function parsePublicUrl(text: string): string {
  const url = parseBaseUrl('--public-url', text);
  const { protocol, hostname } = new URL(url);
  if (protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) {
    throw new UsageError(
      `--public-url must be https:// (Twilio opens media streams only over wss://), got "${text}"`,
    );
  }
  return url;
}

export function parsePort(text: string, flag = '--port'): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`${flag}: expected 0–65535, got "${text}"`);
  return port;
}

/**
 * serve: start the agent, optionally behind a tunnel and on a Twilio number; on SIGINT/SIGTERM stop
 * taking calls, let active ones finish (up to --drain-timeout), put the number back, close
 * everything, exit 0. A second signal exits at once. A fatal error (the tunnel dies) also restores
 * the number before exiting 1.
 */
export async function serveCommand(
  io: CliIo,
  fileArg: string | undefined,
  flags: ServeOptions,
  fromFlag: (name: keyof ServeOptions) => boolean = () => true,
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
  const drainS = Number(options.drainTimeout);
  if (!Number.isFinite(drainS) || drainS < 0)
    throw new UsageError(`--drain-timeout: expected seconds, got "${options.drainTimeout}"`);
  if (!['debug', 'info', 'warn', 'error'].includes(options.logLevel)) {
    throw new UsageError(`--log-level: expected debug, info, warn or error, got "${options.logLevel}"`);
  }
  if (options.tunnel && options.publicUrl)
    throw new UsageError('--tunnel and --public-url both set the public URL: choose one');
  const publicUrl = options.publicUrl === undefined ? undefined : parsePublicUrl(options.publicUrl);
  const realtimeUrl = resolveModelUrl(agent, env, options.realtimeUrl);
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
  const numberToConfigure =
    options.configureNumber === undefined || options.configureNumber === false
      ? undefined
      : typeof options.configureNumber === 'string'
        ? options.configureNumber
        : agent.twilio.phone_number;
  if (options.configureNumber && !numberToConfigure) {
    throw new UsageError(`--configure-number: give a number, or set twilio.phone_number in ${file}`);
  }
  // a worker (serve --workers) runs this same command: the primary did the one-time parts
  const role: 'single' | 'primary' | 'worker' = cluster.isWorker
    ? 'worker'
    : parseWorkers(options.workers) > 1
      ? 'primary'
      : 'single';
  const workers = role === 'primary' ? parseWorkers(options.workers) : 1;
  const twilio = numberToConfigure && role !== 'worker' ? twilioFromEnv(env) : undefined;
  const host = options.host ?? (options.tunnel ? '127.0.0.1' : '0.0.0.0');
  const databaseUrl = databaseUrlOf(env);

  const rootLogger = createLogger({
    level: options.logLevel as LogLevel,
    json: options.jsonLogs,
    write: (line) => io.stderr.write(line),
  });
  const logger = role === 'worker' ? rootLogger.child({ worker: cluster.worker?.id }) : rootLogger;
  for (const w of warnings) logger.warn({ path: w.path, line: w.line }, w.message);
  /** With --json-logs every line is a JSON log line: steps and the banner become log entries. */
  const jsonLog = options.jsonLogs ? logger : undefined;
  const c = colours(io, 'stderr');
  if (role === 'worker') {
    // the primary already said it
  } else if (options.insecureSkipSignature && jsonLog) {
    jsonLog.warn(
      '--insecure-skip-signature is on: anyone who finds this server can place calls on your OpenAI key; never use it on a public URL',
    );
  } else if (options.insecureSkipSignature) {
    io.stderr.write(
      `${c.red('WARNING: --insecure-skip-signature is on.')} Anyone who finds this server can place calls on your OpenAI key.\n` +
        'Use it only for local experiments, never on a public URL.\n',
    );
  }

  let runtime: AgentRuntime | undefined;
  let pool: WorkerPool | undefined;
  let sharedCalls: SharedCalls | undefined;
  let tunnel: Tunnel | undefined;
  let configured = false;
  const cleanup = async () => {
    if (configured && twilio && numberToConfigure) {
      configured = false;
      await step(
        io,
        `putting ${numberToConfigure} back`,
        () => restoreNumber({ client: twilio.client, e164: numberToConfigure, stateDir: twilio.stateDir }),
        () => 'restored',
        jsonLog,
      ).catch((error: Error) =>
        (jsonLog ? (line: string) => jsonLog.error(line.trim()) : (line: string) => io.stderr.write(line))(
          `${c.red('error:')} could not restore ${numberToConfigure}: ${error.message}; run voice-agent configure-number ${numberToConfigure} --restore\n`,
        ),
      );
    }
    await tunnel?.close();
    await runtime?.close();
    await pool?.close();
    await sharedCalls?.stop();
    await sharedCalls?.close();
    await metricsServer?.close();
  };
  /** A worker's steps are its own business: the primary reports the serve's. */
  const stepIo: CliIo = role === 'worker' ? { ...io, stderr: { ...io.stderr, write: () => true } } : io;

  const metricsPort =
    options.metricsPort === undefined ? undefined : parsePort(options.metricsPort, '--metrics-port');
  const metrics =
    metricsPort === undefined || role === 'primary' ? undefined : new CallMetrics(pricingFor(agent));
  if (metrics && role === 'worker') shareMetrics(metrics.registry);
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;

  let realtimeCheck: { realtime: 'ok' | 'skipped'; modelWarnings?: string[] } = {
    realtime: role === 'worker' && env.VOICE_AGENT_PREFLIGHT === 'ok' ? 'ok' : 'skipped',
  };
  let modelNotices = role === 'worker' ? noticesFromEnv(env.VOICE_AGENT_MODEL_NOTICES) : [];
  // every process of a deployment must mint and check the same stream tokens
  const secret =
    env.VOICE_AGENT_SECRET ||
    (role === 'primary' && !twilioAuthToken ? randomBytes(32).toString('hex') : undefined);
  try {
    // GPT-Live has no cheap check that does not open (and bill) a session: its first call shows
    if (!options.skipPreflight && agent.engine === 'realtime' && role !== 'worker') {
      await step(
        io,
        'checking the OpenAI Realtime endpoint and key',
        () =>
          checkRealtime({ url: realtimeUrl, model: agent.model, apiKey: openaiApiKey }).catch(
            (error: Error) => {
              throw new PeerError(
                'openai',
                'realtime_preflight_failed',
                `${error.message} (--skip-preflight starts anyway, e.g. where OpenAI is not reachable yet)`,
              );
            },
          ),
        () => `${agent.model} accepted`,
        jsonLog,
      );
      realtimeCheck = { realtime: 'ok' };
    }
    if (!options.skipPreflight && role !== 'worker')
      modelNotices = await guardModels({ io, agent, url: realtimeUrl, apiKey: openaiApiKey, jsonLog });
    if (modelNotices.length > 0) {
      realtimeCheck = { ...realtimeCheck, modelWarnings: modelNotices.map((n) => n.message) };
      metrics?.modelShutdowns(modelNotices);
      if (role !== 'worker') for (const n of modelNotices) logger.warn(n.message);
    }
    // said once, before any worker starts (a worker connects for itself)
    const checked =
      databaseUrl && role !== 'worker'
        ? await step(
            io,
            'connecting to the database',
            () => connectPostgres(databaseUrl),
            (s) => s.location,
            jsonLog,
          )
        : undefined;
    if (role === 'primary') {
      await checked?.close();
      pool = await step(
        io,
        `starting ${agent.name} in ${workers} workers`,
        () =>
          startWorkers({
            count: workers,
            logger,
            env: {
              VOICE_AGENT_PREFLIGHT: realtimeCheck.realtime,
              ...(modelNotices.length ? { VOICE_AGENT_MODEL_NOTICES: JSON.stringify(modelNotices) } : {}),
              ...(secret ? { VOICE_AGENT_SECRET: secret } : {}),
            },
            ...(publicUrl ? { publicUrl } : {}),
          }),
        (p) => `listening on ${p.boundAddress}`,
        jsonLog,
      );
    } else {
      // records and the shared call state: PostgreSQL with DATABASE_URL; the workers of one machine
      // share the data directory's SQLite file; one process alone keeps the call state in memory
      const sql =
        checked ??
        (databaseUrl ? await connectPostgres(databaseUrl) : role === 'worker' ? openSqlite(dir) : undefined);
      sharedCalls = sql ? await SharedCalls.open(sql, instanceId()) : undefined;
      const store =
        databaseUrl && agent.records.enabled
          ? await PostgresCallStore.open(await connectPostgres(databaseUrl))
          : undefined;
      runtime = await step(
        stepIo,
        `starting ${agent.name}`,
        () =>
          startAgentRuntime({
            agent,
            logger,
            host,
            port,
            publicUrl,
            realtimeUrl,
            openaiApiKey,
            twilioAuthToken,
            insecureSkipSignature: options.insecureSkipSignature,
            realtimeCheck: () => realtimeCheck,
            responsesUrl: env.OPENAI_RESPONSES_URL,
            records: openCallRecords({ agent, dir, logger, ...(store ? { store } : {}) }),
            metrics,
            adminToken,
            webhooks: agent.webhooks.length ? new CallWebhooks({ agent, logger }) : undefined,
            twilioRest: env.TWILIO_ACCOUNT_SID
              ? { accountSid: env.TWILIO_ACCOUNT_SID, apiBaseUrl: env.TWILIO_API_BASE_URL }
              : undefined,
            ...(sharedCalls ? { sharedCalls } : {}),
            streamTokenKey: streamTokenKey({ twilioAuthToken, ...(secret ? { secret } : {}) }),
          }).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EADDRINUSE')
              throw new UsageError(`port ${port} is already in use: choose another with --port`);
            throw error;
          }),
        (r) => `listening on ${r.server.boundAddress}`,
        role === 'worker' ? undefined : jsonLog,
      );
      const started = runtime;
      if (agent.mcp_servers.length > 0) {
        // the port is already open: calls that come now are served with the tools ready so far
        await step(
          stepIo,
          'connecting MCP servers',
          () => started.toolsSettled,
          () =>
            started.pool
              .status()
              .map((s) =>
                s.state === 'ready'
                  ? `${s.name} (${s.tools.length} tools)`
                  : `${s.name} unreachable, retrying`,
              )
              .join(', '),
          role === 'worker' ? undefined : jsonLog,
        );
      }
      const toolWarning = role === 'worker' ? undefined : toolCountWarning(started.toolCount());
      if (toolWarning) logger.warn(toolWarning);
      if (role === 'worker') {
        const drainMs = await followPrimary(started.server, drainS * 1000);
        await started.server.drain(drainMs);
        return;
      }
    }
    const metricsSource = pool?.metrics ?? metrics?.registry;
    if (metricsSource && metricsPort !== undefined) {
      const host = options.metricsHost;
      metricsServer = await step(
        io,
        'serving metrics',
        () =>
          startMetricsServer(metricsSource, { port: metricsPort, host }).catch(
            (error: NodeJS.ErrnoException) => {
              if (error.code === 'EADDRINUSE')
                throw new UsageError(`--metrics-port ${metricsPort} is already in use: choose another`);
              throw error;
            },
          ),
        (m) => m.url,
        jsonLog,
      );
    }
    const server = pool ?? runtime!.server;
    const localPort = Number(new URL(server.localUrl).port);

    if (options.tunnel) {
      const provider = tunnelProviderFromEnv(env);
      tunnel = await step(
        io,
        `opening a ${provider.name} tunnel`,
        async () => {
          const opened = await provider.open({ port: localPort });
          server.setPublicUrl(opened.url);
          try {
            await selfTestTunnel(opened.url);
          } catch (error) {
            await opened.close();
            throw error;
          }
          return opened;
        },
        (t) => `${t.url} (self-test passed)`,
        jsonLog,
      );
    }

    if (twilio && numberToConfigure) {
      await step(
        io,
        `pointing ${numberToConfigure} at this server`,
        async () => {
          const change = await configureNumber({
            client: twilio.client,
            e164: numberToConfigure,
            baseUrl: server.publicUrl,
            stateDir: twilio.stateDir,
          });
          configured = true;
          return change;
        },
        (change) => (change.changed ? `was ${change.before.voice_url ?? 'unset'}` : 'already set'),
        jsonLog,
      );
    }

    if (jsonLog) {
      jsonLog.info(
        {
          agent: agent.name,
          address: server.boundAddress,
          ...(pool ? { workers: pool.workers } : {}),
          webhookUrl: server.webhookUrl,
          streamUrl: server.streamUrl,
          ...(numberToConfigure ? { number: numberToConfigure } : {}),
          ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
          ...(adminToken && agent.records.enabled ? { callsUrl: `${server.publicUrl}/calls` } : {}),
          ...(options.publicUrl || options.tunnel
            ? {}
            : { warning: 'no --public-url: Twilio cannot reach this address' }),
        },
        'listening',
      );
    } else
      io.stdout.write(
        `${c.green('voice-agent')} ${agent.name} is listening on ${server.boundAddress}${pool ? ` (${pool.workers} workers)` : ''}\n` +
          `  Twilio voice webhook (POST): ${server.webhookUrl}\n` +
          `  Media stream:                ${server.streamUrl}\n` +
          (adminToken && agent.records.enabled
            ? `  Calls page:                  ${server.publicUrl}/calls\n`
            : '') +
          (metricsServer ? `  Metrics:                     ${metricsServer.url}\n` : '') +
          (numberToConfigure
            ? `  Call ${numberToConfigure} to talk to the agent; its webhook points here until you stop.\n`
            : '') +
          (options.publicUrl || options.tunnel
            ? ''
            : `  ${c.yellow('No --public-url given:')} Twilio cannot reach this address; use --public-url or --tunnel.\n`),
      );

    const tunnelDied = new Promise<string>((resolve) => tunnel?.onClose(resolve));
    const outcome = await Promise.race([
      waitForShutdownSignal().then((signal) => ({ kind: 'signal' as const, signal })),
      tunnelDied.then((reason) => ({ kind: 'tunnel' as const, reason })),
    ]);
    if (outcome.kind === 'tunnel') {
      throw new VoiceAgentError(
        'tunnel_closed',
        `${outcome.reason}; stopping (Twilio can no longer reach this server)`,
      );
    }
    logger.info(
      {
        signal: outcome.signal,
        ...(pool ? { workers: pool.workers } : { activeCalls: runtime?.server.activeCalls }),
      },
      'shutting down: new calls get the fallback',
    );
    await server.drain(drainS * 1000);
  } finally {
    await cleanup();
  }
}

/** The data directory's SQLite file, which the workers of one machine share. */
function openSqlite(dir: string): SqliteSql {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new SqliteSql(join(dir, 'calls.db'));
  } catch (error) {
    throw new UsageError(
      `serve --workers keeps the calls it shares in ${dir}, which cannot be used (${(error as Error).message}): set --data-dir, or DATABASE_URL`,
    );
  }
}
