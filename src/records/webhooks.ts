import { createHmac } from 'node:crypto';
import type { CallEvent } from '../bridge/call-events.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { RecordBuilder } from './call-record.js';
import { recordContext } from './call-records.js';

/** Waits before each retry of a delivery that failed. */
export const WEBHOOK_RETRY_DELAYS_MS = [1_000, 4_000, 10_000];
const ATTEMPT_TIMEOUT_MS = 5_000;

export type WebhookEvent = 'call.ended' | 'message.taken';

/**
 * Tells the business's own systems what happened, by HTTP POST: the call's summary when it ends,
 * each message the agent took. Each body is signed (`X-Voice-Agent-Signature: sha256=<hex>`, an
 * HMAC-SHA256 with the hook's secret over `<timestamp>.<body>`, the timestamp in
 * `X-Voice-Agent-Timestamp`), retried with backoff on a failure or a non-2xx answer, and never waited
 * for by a call.
 */
export class CallWebhooks {
  readonly #agent: AgentConfig;
  readonly #log: Logger;
  readonly #builders = new Map<string, RecordBuilder>();
  readonly #deliveries = new Set<Promise<void>>();
  readonly #retryDelays: readonly number[];
  readonly #simulated: boolean;

  constructor(options: {
    agent: AgentConfig;
    logger: Logger;
    simulated?: boolean;
    retryDelaysMs?: readonly number[];
  }) {
    this.#agent = options.agent;
    this.#log = options.logger;
    this.#retryDelays = options.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
    this.#simulated = options.simulated ?? false;
  }

  onEvent(callSid: string, event: CallEvent): void {
    if (this.#agent.webhooks.length === 0) return;
    let builder = this.#builders.get(callSid);
    if (!builder) {
      builder = new RecordBuilder(recordContext(this.#agent, this.#simulated), callSid);
      this.#builders.set(callSid, builder);
    }
    builder.add(event);
    if (event.type === 'message_taken') {
      const r = builder.record;
      this.#send('message.taken', { callSid, agent: r.agent.name, from: r.from, message: r.messages.at(-1) });
    }
    if (event.type === 'ended') {
      this.#builders.delete(callSid);
      const r = builder.record;
      this.#send('call.ended', {
        callSid,
        agent: r.agent.name,
        simulated: r.simulated,
        from: r.from,
        to: r.to,
        startedAt: r.startedAt,
        endedAt: r.endedAt,
        durationMs: r.durationMs,
        outcome: r.outcome,
        transcript: r.transcript.map(({ role, text, startMs }) => ({ role, text, atMs: startMs })),
        toolCalls: r.toolCalls.map(({ name, ok, durationMs }) => ({ name, ok, durationMs })),
        messages: r.messages,
        latency: r.latency,
        cost: r.cost,
      });
    }
  }

  /** Resolves once every delivery under way has succeeded or given up (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.#deliveries.size) await Promise.allSettled([...this.#deliveries]);
  }

  #send(event: WebhookEvent, data: Record<string, unknown>): void {
    for (const hook of this.#agent.webhooks) {
      if (!hook.events.includes(event)) continue;
      const delivery = this.#deliver(hook.url, hook.secret, event, JSON.stringify({ event, ...data }));
      this.#deliveries.add(delivery);
      void delivery.finally(() => this.#deliveries.delete(delivery));
    }
  }

  async #deliver(url: string, secret: string, event: WebhookEvent, body: string): Promise<void> {
    // the URL may carry a token: logs name only its host
    const where = new URL(url).host;
    for (let attempt = 0; attempt <= this.#retryDelays.length; attempt++) {
      if (attempt > 0) await sleep(this.#retryDelays[attempt - 1]!);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'voice-agent-webhooks',
            'x-voice-agent-event': event,
            'x-voice-agent-timestamp': timestamp,
            'x-voice-agent-signature': `sha256=${signature}`,
          },
          body,
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        if (res.ok) return;
        this.#log.warn(
          { webhook: where, event, status: res.status, attempt: attempt + 1 },
          'webhook refused',
        );
      } catch (error) {
        this.#log.warn(
          {
            webhook: where,
            event,
            attempt: attempt + 1,
            reason: errorMessage(error),
          },
          'webhook unreachable',
        );
      }
    }
    this.#log.error({ webhook: where, event }, 'gave up delivering a webhook');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
