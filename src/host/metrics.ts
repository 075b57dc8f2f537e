import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEvent } from '../bridge/call-events.js';
import type { ModelUsage } from '../bridge/ports.js';
import { addUsage, costOf, emptyUsage, type Prices } from '../records/pricing.js';

const LATENCY_BUCKETS = [0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 5, 10];

/**
 * Prometheus metrics of the calls one process serves, fed by their event streams (never by reading a
 * live call). One registry per instance (no global state), so tests and several servers in one
 * process never mix their numbers.
 */
export class CallMetrics {
  readonly registry = new Registry();
  readonly #active: Gauge;
  readonly #calls: Counter;
  readonly #turnLatency: Histogram;
  readonly #greetingLatency: Histogram;
  readonly #bargeInStop: Histogram;
  readonly #toolDuration: Histogram;
  readonly #reconnects: Counter;
  readonly #warnings: Counter;
  readonly #cost: Counter;
  readonly #outboundRefused: Counter<'reason'>;
  readonly #pricing: { prices: Prices | undefined; transcriptionPerMinute: number | undefined };
  /** Per live call: tokens and caller speech so far (for its cost at the end). */
  readonly #live = new Map<string, { usage: ModelUsage; speechStartedAt?: number; speechMs: number }>();

  constructor(pricing: { prices: Prices | undefined; transcriptionPerMinute: number | undefined }) {
    this.#pricing = pricing;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'voice_agent_' });
    this.#active = new Gauge({ name: 'voice_agent_active_calls', help: 'Calls in progress.', registers });
    this.#calls = new Counter({
      name: 'voice_agent_calls_total',
      help: 'Calls that ended, by outcome (completed, transfer, failed) and failure code.',
      labelNames: ['outcome', 'code'],
      registers,
    });
    this.#turnLatency = new Histogram({
      name: 'voice_agent_turn_latency_seconds',
      help: "From the last caller frame of a turn to the answer's first audio sent to the phone.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#greetingLatency = new Histogram({
      name: 'voice_agent_greeting_latency_seconds',
      help: "From the stream's start to the greeting's first audio sent to the phone.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#bargeInStop = new Histogram({
      name: 'voice_agent_barge_in_stop_seconds',
      help: 'How long the agent went on speaking after the caller started (the model’s detection delay).',
      buckets: [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2],
      registers,
    });
    this.#toolDuration = new Histogram({
      name: 'voice_agent_tool_duration_seconds',
      help: 'Tool calls by tool and status: ok, or why it failed (timeout, unreachable, tool_error, invalid_arguments…).',
      labelNames: ['tool', 'status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.#reconnects = new Counter({
      name: 'voice_agent_model_reconnects_total',
      help: 'Model sessions replaced mid-call: lost (a dropped socket) or rollover (the session time limit).',
      labelNames: ['reason'],
      registers,
    });
    this.#warnings = new Counter({
      name: 'voice_agent_call_warnings_total',
      help: 'Problems a call survived (a refused response, a lost socket being replaced).',
      registers,
    });
    this.#outboundRefused = new Counter({
      name: 'voice_agent_outbound_refused_total',
      help: 'Outbound call requests refused: a destination or caller ID not allowed, or over the rate limit.',
      labelNames: ['reason'],
      registers,
    });
    this.#cost = new Counter({
      name: 'voice_agent_cost_usd_total',
      help: "What ended calls cost at the model's prices (tokens) plus transcription, in USD.",
      registers,
    });
  }

  /** An outbound call request the guard refused (destination, caller ID, rate). */
  outboundRefused(reason: string): void {
    this.#outboundRefused.inc({ reason });
  }

  /** Days until each retiring model of the agent shuts down (serve's model-lifecycle guard). */
  modelShutdowns(notices: readonly { role: string; model: string; daysLeft?: number }[]): void {
    const gauge = new Gauge({
      name: 'voice_agent_model_shutdown_days',
      help: 'Days until OpenAI shuts down a model this agent uses (only models within 90 days).',
      labelNames: ['role', 'model'],
      registers: [this.registry],
    });
    for (const n of notices)
      if (n.daysLeft !== undefined) gauge.set({ role: n.role, model: n.model }, n.daysLeft);
  }

  onEvent(callSid: string, event: CallEvent): void {
    switch (event.type) {
      case 'started':
        this.#active.inc();
        this.#live.set(callSid, { usage: emptyUsage(), speechMs: 0 });
        return;
      case 'caller_speech_started': {
        const call = this.#live.get(callSid);
        if (call) call.speechStartedAt ??= event.atMs;
        return;
      }
      case 'caller_speech_stopped': {
        const call = this.#live.get(callSid);
        if (call?.speechStartedAt !== undefined) {
          call.speechMs += event.atMs - call.speechStartedAt;
          call.speechStartedAt = undefined;
        }
        return;
      }
      case 'latency':
        (event.kind === 'turn' ? this.#turnLatency : this.#greetingLatency).observe(event.ms / 1000);
        return;
      case 'barge_in':
        if (event.stopMs !== undefined) this.#bargeInStop.observe(event.stopMs / 1000);
        return;
      case 'tool_call':
        this.#toolDuration.observe(
          { tool: event.name, status: event.ok ? 'ok' : (event.code ?? 'tool_error') },
          event.durationMs / 1000,
        );
        return;
      case 'model_resumed':
        this.#reconnects.inc({ reason: event.reason });
        return;
      case 'warning':
        this.#warnings.inc();
        return;
      case 'usage': {
        const call = this.#live.get(callSid);
        if (call) addUsage(call.usage, event.usage);
        return;
      }
      case 'ended': {
        this.#active.dec();
        const { outcome } = event;
        this.#calls.inc({ outcome: outcome.kind, code: outcome.kind === 'failed' ? outcome.code : '' });
        const call = this.#live.get(callSid);
        this.#live.delete(callSid);
        if (!call) return;
        const cost = costOf({
          usage: call.usage,
          callerSpeechMs: call.speechMs,
          sessionMs: event.durationMs,
          ...this.#pricing,
        });
        if (cost.total !== undefined) this.#cost.inc(cost.total);
        return;
      }
      default:
        return;
    }
  }
}

/**
 * Serves `/metrics` on its own port (loopback by default: metrics say how busy the business is and
 * what it spends, which is nobody else's business).
 */
export async function startMetricsServer(
  /** A registry, or the primary's sum of its workers' (serve --workers). */
  metrics: { contentType: string; metrics(): Promise<string> },
  options: { port: number; host: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    metrics
      .metrics()
      .then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text))
      .catch(() => res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal server error\n'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
