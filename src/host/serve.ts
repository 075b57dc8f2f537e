import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connectPostgres } from '../db/open.js';
import { SqliteSql } from '../db/sqlite.js';
import { UsageError } from '../errors.js';
import { openCallRecords } from '../records/open.js';
import { PostgresCallStore } from '../records/postgres-store.js';
import { pricingFor } from '../records/pricing.js';
import { CallWebhooks } from '../records/webhooks.js';
import { configureNumber, restoreNumber } from '../telephony/twilio/configure.js';
import { toolCountWarning } from '../tools/tool-count.js';
import type { Tunnel, TunnelProvider } from '../tunnel/index.js';
import { selfTestTunnel } from '../tunnel/self-test.js';
import { type AgentRuntime, startAgentRuntime } from './agent-runtime.js';
import { instanceId, SharedCalls } from './calls/shared-calls.js';
import { streamTokenKey } from './calls/stream-token.js';
import { CallMetrics, startMetricsServer } from './metrics.js';
import { type ModelNotice, noticesFromEnv, preflight } from './model-check.js';
import type { ServeOptions, Serving } from './serve-options.js';
import { loggedSteps, quietSteps, type StepReporter } from './steps.js';
import { followPrimary, shareMetrics, startWorkers, type WorkerPool } from './workers.js';

/**
 * The programmatic `serve`: one process, or a primary and its workers. Checks the model endpoint,
 * connects the database, starts the agent (or the workers), the metrics server, the tunnel, and
 * points the number; if any step fails, what was started is closed again before the error.
 */
export async function startServe(options: ServeOptions): Promise<Serving> {
  const starting = new ServeStart(options);
  try {
    return await starting.run();
  } catch (error) {
    await starting.close();
    throw error;
  }
}

/** The steps of one start-up, and what they opened (closed in reverse by `close`). */
class ServeStart {
  readonly #o: ServeOptions;
  readonly #role: Serving['role'];
  readonly #steps: StepReporter;
  #runtime: AgentRuntime | undefined;
  #pool: WorkerPool | undefined;
  #sharedCalls: SharedCalls | undefined;
  #tunnel: Tunnel | undefined;
  #metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  #configured = false;
  #realtimeCheck: { realtime: 'ok' | 'skipped'; modelWarnings?: string[] } = { realtime: 'skipped' };
  #notices: ModelNotice[] = [];

  constructor(options: ServeOptions) {
    this.#o = options;
    // a worker (serve --workers) runs this same program: the primary did the one-time parts
    this.#role = cluster.isWorker ? 'worker' : (options.workers ?? 1) > 1 ? 'primary' : 'single';
    this.#steps = this.#role === 'worker' ? quietSteps : (options.steps ?? loggedSteps(options.logger));
  }

  async run(): Promise<Serving> {
    const o = this.#o;
    const metrics = o.metrics && this.#role !== 'primary' ? new CallMetrics(pricingFor(o.agent)) : undefined;
    if (metrics && this.#role === 'worker') shareMetrics(metrics.registry);
    await this.#preflight();
    if (this.#notices.length > 0) {
      this.#realtimeCheck = { ...this.#realtimeCheck, modelWarnings: this.#notices.map((n) => n.message) };
      metrics?.modelShutdowns(this.#notices);
      if (this.#role !== 'worker') for (const n of this.#notices) o.logger.warn(n.message);
    }
    // every process of a deployment must mint and check the same stream tokens
    const secret =
      o.secret ||
      (this.#role === 'primary' && !o.twilioAuthToken ? randomBytes(32).toString('hex') : undefined);
    // said once, before any worker starts (a worker connects for itself)
    const checked =
      o.databaseUrl && this.#role !== 'worker'
        ? await this.#steps(
            'connecting to the database',
            () => connectPostgres(o.databaseUrl!),
            (s) => s.location,
          )
        : undefined;
    if (this.#role === 'primary') {
      await checked?.close();
      this.#pool = await this.#startWorkers(secret);
    } else {
      this.#runtime = await this.#startAgent(checked, metrics, secret);
    }
    const server = this.#pool ?? this.#runtime!.server;
    const metricsSource = this.#pool?.metrics ?? metrics?.registry;
    if (metricsSource && o.metrics && this.#role !== 'worker')
      await this.#serveMetrics(metricsSource, o.metrics);
    if (o.tunnel && this.#role !== 'worker') await this.#openTunnel(o.tunnel, server);
    if (o.number && this.#role !== 'worker') await this.#pointNumber(o.number, server.publicUrl);
    return this.#serving(server);
  }

  async close(): Promise<void> {
    const number = this.#o.number;
    if (this.#configured && number) {
      this.#configured = false;
      await this.#steps(
        `putting ${number.e164} back`,
        () => restoreNumber({ client: number.client, e164: number.e164, stateDir: number.stateDir }),
        () => 'restored',
      ).catch((error: Error) =>
        this.#o.logger.error(
          `could not restore ${number.e164}: ${error.message}; run voice-agent configure-number ${number.e164} --restore`,
        ),
      );
    }
    await this.#tunnel?.close();
    await this.#runtime?.close();
    await this.#pool?.close();
    await this.#sharedCalls?.stop();
    await this.#sharedCalls?.close();
    await this.#metricsServer?.close();
  }

  /** The Realtime endpoint and key, and the models' shutdown dates (a worker takes the primary's word). */
  async #preflight(): Promise<void> {
    const checked =
      this.#role === 'worker'
        ? {
            realtime: process.env.VOICE_AGENT_PREFLIGHT === 'ok' ? ('ok' as const) : ('skipped' as const),
            notices: noticesFromEnv(process.env.VOICE_AGENT_MODEL_NOTICES),
          }
        : await preflight(this.#o, this.#steps);
    this.#realtimeCheck = { realtime: checked.realtime };
    this.#notices = checked.notices;
  }

  #startWorkers(secret: string | undefined): Promise<WorkerPool> {
    const o = this.#o;
    const notices = this.#notices;
    return this.#steps(
      `starting ${o.agent.name} in ${o.workers} workers`,
      () =>
        startWorkers({
          count: o.workers ?? 1,
          logger: o.logger,
          env: {
            VOICE_AGENT_PREFLIGHT: this.#realtimeCheck.realtime,
            ...(notices.length ? { VOICE_AGENT_MODEL_NOTICES: JSON.stringify(notices) } : {}),
            ...(secret ? { VOICE_AGENT_SECRET: secret } : {}),
          },
          ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
        }),
      (p) => `listening on ${p.boundAddress}`,
    );
  }

  /**
   * The agent in this process. Records and the shared call state: PostgreSQL with a database URL;
   * the workers of one machine share the data directory's SQLite file; one process alone keeps the
   * call state in memory.
   */
  async #startAgent(
    checked: Awaited<ReturnType<typeof connectPostgres>> | undefined,
    metrics: CallMetrics | undefined,
    secret: string | undefined,
  ): Promise<AgentRuntime> {
    const o = this.#o;
    const sql =
      checked ??
      (o.databaseUrl
        ? await connectPostgres(o.databaseUrl)
        : this.#role === 'worker'
          ? openSqlite(o.dataDir)
          : undefined);
    this.#sharedCalls = sql ? await SharedCalls.open(sql, instanceId()) : undefined;
    const store =
      o.databaseUrl && o.agent.records.enabled
        ? await PostgresCallStore.open(await connectPostgres(o.databaseUrl))
        : undefined;
    const logger = o.logger;
    const runtime = await this.#steps(
      `starting ${o.agent.name}`,
      () =>
        startAgentRuntime({
          agent: o.agent,
          logger,
          host: o.host,
          port: o.port,
          publicUrl: o.publicUrl,
          realtimeUrl: o.realtimeUrl,
          openaiApiKey: o.openaiApiKey,
          twilioAuthToken: o.twilioAuthToken,
          insecureSkipSignature: o.insecureSkipSignature,
          realtimeCheck: () => this.#realtimeCheck,
          responsesUrl: o.responsesUrl,
          records: openCallRecords({ agent: o.agent, dir: o.dataDir, logger, ...(store ? { store } : {}) }),
          metrics,
          adminToken: o.adminToken,
          webhooks: o.agent.webhooks.length ? new CallWebhooks({ agent: o.agent, logger }) : undefined,
          twilioRest: o.twilioRest,
          ...(this.#sharedCalls ? { sharedCalls: this.#sharedCalls } : {}),
          streamTokenKey: streamTokenKey({
            twilioAuthToken: o.twilioAuthToken,
            ...(secret ? { secret } : {}),
          }),
        }).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EADDRINUSE')
            throw new UsageError(`port ${o.port} is already in use: choose another with --port`);
          throw error;
        }),
      (r) => `listening on ${r.server.boundAddress}`,
    );
    this.#runtime = runtime;
    if (o.agent.mcp_servers.length > 0) {
      // the port is already open: calls that come now are served with the tools ready so far
      await this.#steps(
        'connecting MCP servers',
        () => runtime.toolsSettled,
        () =>
          runtime.pool
            .status()
            .map((s) =>
              s.state === 'ready' ? `${s.name} (${s.tools.length} tools)` : `${s.name} unreachable, retrying`,
            )
            .join(', '),
      );
    }
    const toolWarning = this.#role === 'worker' ? undefined : toolCountWarning(runtime.toolCount());
    if (toolWarning) logger.warn(toolWarning);
    return runtime;
  }

  async #serveMetrics(
    source: Parameters<typeof startMetricsServer>[0],
    at: { port: number; host: string },
  ): Promise<void> {
    this.#metricsServer = await this.#steps(
      'serving metrics',
      () =>
        startMetricsServer(source, at).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EADDRINUSE')
            throw new UsageError(`--metrics-port ${at.port} is already in use: choose another`);
          throw error;
        }),
      (m) => m.url,
    );
  }

  async #openTunnel(provider: TunnelProvider, server: { localUrl: string; setPublicUrl(url: string): void }) {
    const port = Number(new URL(server.localUrl).port);
    this.#tunnel = await this.#steps(
      `opening a ${provider.name} tunnel`,
      async () => {
        const opened = await provider.open({ port });
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
    );
  }

  async #pointNumber(number: NonNullable<ServeOptions['number']>, baseUrl: string): Promise<void> {
    await this.#steps(
      `pointing ${number.e164} at this server`,
      async () => {
        const change = await configureNumber({
          client: number.client,
          e164: number.e164,
          baseUrl,
          stateDir: number.stateDir,
        });
        this.#configured = true;
        return change;
      },
      (change) => (change.changed ? `was ${change.before.voice_url ?? 'unset'}` : 'already set'),
    );
  }

  #serving(server: WorkerPool | AgentRuntime['server']): Serving {
    const o = this.#o;
    const runtime = this.#runtime;
    const pool = this.#pool;
    const tunnel = this.#tunnel;
    return {
      role: this.#role,
      boundAddress: server.boundAddress,
      publicUrl: server.publicUrl,
      webhookUrl: server.webhookUrl,
      streamUrl: server.streamUrl,
      ...(pool ? { workers: pool.workers } : {}),
      ...(this.#metricsServer ? { metricsUrl: this.#metricsServer.url } : {}),
      ...(o.adminToken && o.agent.records.enabled ? { callsUrl: `${server.publicUrl}/calls` } : {}),
      modelNotices: this.#notices,
      get activeCalls() {
        return pool ? undefined : runtime?.server.activeCalls;
      },
      tunnelClosed: new Promise<string>((resolve) => tunnel?.onClose(resolve)),
      drain: (timeoutMs) => server.drain(timeoutMs),
      followPrimary: async (drainTimeoutMs) => {
        if (!runtime) return;
        await runtime.server.drain(await followPrimary(runtime.server, drainTimeoutMs));
      },
      close: () => this.close(),
    };
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

export type { ServeOptions, Serving } from './serve-options.js';
