import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { UsageError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { normalizePublicUrl, ROUTES, streamUrl } from './http/routes.js';

/**
 * `serve --workers N`: N worker processes (node:cluster) accept on one port; the primary forks them,
 * opens the tunnel, points the number, serves the metrics of all of them, and on SIGTERM tells every
 * worker to drain. A worker runs the same `serve` command (cluster re-runs the CLI with the same
 * arguments) and talks to the primary only through these messages. Calls cross workers freely —
 * the webhook on one, the stream on another — through the shared call state.
 */

/** From a worker. */
export type WorkerMessage =
  | { type: 'listening'; boundAddress: string; localUrl: string }
  | { type: 'drained' };
/** From the primary. */
export type PrimaryMessage = { type: 'public-url'; url: string } | { type: 'drain'; timeoutMs: number };

/** `--workers`: a count, or `auto` for one per core. */
export function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`--workers: expected 1–64 or auto, got "${text}"`);
  return n;
}

export interface WorkerPool {
  readonly boundAddress: string;
  readonly localUrl: string;
  readonly publicUrl: string;
  readonly webhookUrl: string;
  readonly streamUrl: string;
  readonly workers: number;
  setPublicUrl(url: string): void;
  /** Every worker drains (its calls finish, up to `timeoutMs`, then go to the fallback) and exits. */
  drain(timeoutMs: number): Promise<void>;
  /** Kills what is left. */
  close(): Promise<void>;
  /** The metrics of every worker, summed (each worker counts its own calls). */
  metrics: { contentType: string; metrics(): Promise<string> };
}

export interface WorkerPoolOptions {
  count: number;
  logger: Logger;
  /** Added to each worker's environment (the preflight's result, a shared token key). */
  env: Record<string, string>;
  publicUrl?: string;
}

/** Forks `count` workers and resolves once each is listening (a worker that cannot start fails it). */
export async function startWorkers(options: WorkerPoolOptions): Promise<WorkerPool> {
  const pool = new ClusterPool(options);
  await pool.start();
  return pool;
}

/** The primary's view of its workers: forks them, replaces one that dies, tells them the public URL and when to drain. */
class ClusterPool implements WorkerPool {
  readonly workers: number;
  readonly metrics: WorkerPool['metrics'];
  readonly #o: WorkerPoolOptions;
  readonly #live = new Set<Worker>();
  #publicUrl: string;
  #stopping = false;
  #first: { boundAddress: string; localUrl: string } | undefined;

  constructor(options: WorkerPoolOptions) {
    this.#o = options;
    this.workers = options.count;
    this.#publicUrl = options.publicUrl ? normalizePublicUrl(options.publicUrl) : '';
    const aggregator = new AggregatorRegistry();
    this.metrics = { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
  }

  async start(): Promise<void> {
    try {
      await Promise.all(Array.from({ length: this.#o.count }, () => this.#fork()));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  get boundAddress(): string {
    return this.#first!.boundAddress;
  }
  get localUrl(): string {
    return this.#first!.localUrl;
  }
  get publicUrl(): string {
    return this.#publicUrl || this.localUrl;
  }
  get webhookUrl(): string {
    return this.publicUrl + ROUTES.incoming;
  }
  get streamUrl(): string {
    return streamUrl(this.publicUrl);
  }

  setPublicUrl(url: string): void {
    this.#publicUrl = normalizePublicUrl(url);
    for (const worker of this.#live) send(worker, { type: 'public-url', url: this.#publicUrl });
  }

  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#live].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            send(worker, { type: 'drain', timeoutMs });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    this.#stopping = true;
    for (const worker of this.#live) worker.kill('SIGKILL');
  }

  /** One worker, resolved once it listens; replaced if it dies later. */
  #fork(): Promise<void> {
    const worker = cluster.fork({ ...this.#o.env });
    this.#live.add(worker);
    let listening = false;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type !== 'listening') return;
        listening = true;
        this.#first ??= { boundAddress: message.boundAddress, localUrl: message.localUrl };
        if (this.#publicUrl) send(worker, { type: 'public-url', url: this.#publicUrl });
        resolve();
      });
      worker.once('exit', (code, signal) => {
        this.#live.delete(worker);
        if (this.#stopping) return;
        const why = signal ? `signal ${signal}` : `code ${code}`;
        // a worker that cannot start would only fail again: said, not retried
        if (!listening)
          return reject(new UsageError(`a worker exited at start (${why}); its error is above`));
        this.#replace(worker, why);
      });
    });
  }

  /** A worker that crashed is replaced; its calls are lost (their action requests get the fallback). */
  #replace(worker: Worker, why: string): void {
    this.#o.logger.error({ worker: worker.id, exit: why }, 'a worker died; starting another');
    this.#fork().catch((error: Error) =>
      this.#o.logger.error({ reason: error.message }, 'could not replace a worker; serving with fewer'),
    );
  }
}

function send(worker: Worker, message: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(message);
}

/**
 * In a worker: says it is listening, follows the public URL the primary gives, and resolves when
 * the primary says drain (or is gone), with the drain's timeout.
 */
export function followPrimary(
  server: {
    boundAddress: string;
    localUrl: string;
    setPublicUrl(url: string): void;
  },
  /** How long live calls may go on once the primary is gone (serve's --drain-timeout). */
  drainMs: number,
): Promise<number> {
  // the primary decides when to stop: a terminal's Ctrl-C reaches every process of the group
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  return new Promise((resolve) => {
    process.on('message', (message: PrimaryMessage) => {
      if (message.type === 'public-url') server.setPublicUrl(message.url);
      else if (message.type === 'drain') resolve(message.timeoutMs);
    });
    // Node's cluster worker exits at once when its primary goes (its own 'disconnect' listener),
    // cutting every live call of this process (reliability test 20). Take that listener off: the
    // connections this worker already holds stay open, so its calls drain instead; new calls cannot
    // reach it any more (the primary held the port), and a supervisor's SIGTERM now counts.
    for (const listener of process.listeners('disconnect')) process.removeListener('disconnect', listener);
    process.once('disconnect', () => {
      process.removeListener('SIGTERM', ignore);
      process.removeListener('SIGINT', ignore);
      process.once('SIGTERM', () => resolve(0));
      process.once('SIGINT', () => resolve(0));
      resolve(drainMs);
    });
    process.send?.({
      type: 'listening',
      boundAddress: server.boundAddress,
      localUrl: server.localUrl,
    } satisfies WorkerMessage);
  });
}

/** In a worker: its metrics are summed by the primary's AggregatorRegistry. */
export function shareMetrics(registry: Registry): void {
  // constructing one is what makes prom-client answer the primary's requests in a worker
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}
