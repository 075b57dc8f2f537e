import { createHmac } from 'node:crypto';
import type { ToolResult } from '../bridge/tool-ports.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { RecordMoment } from './call-ledger.js';
import type { CallRecord } from './call-record.js';

/** Waits before each retry of a delivery that failed. */
export const WEBHOOK_RETRY_DELAYS_MS = [1_000, 4_000, 10_000];
const ATTEMPT_TIMEOUT_MS = 5_000;

export type WebhookEvent = 'call.ended' | 'message.taken' | 'voicemail.left';

/** Calls one of the agent's MCP tools for a tool hook; resolves with its output (never throws). */
export type HookToolCaller = (
  name: string,
  args: Record<string, unknown>,
  signal: AbortSignal,
) => Promise<ToolResult>;

/**
 * Tells the business's own systems what happened: the call's summary (with its post-call outcome)
 * once it is final, each message the agent took, each voicemail left after an unanswered transfer.
 * A URL hook gets a POST whose body is signed (`X-Voice-Agent-Signature: sha256=<hex>`, an
 * HMAC-SHA256 with the hook's secret over `<timestamp>.<body>`, the timestamp in
 * `X-Voice-Agent-Timestamp`); a tool hook calls one of the agent's MCP tools with `{ event, data }`.
 * Both are retried with backoff on a failure, and never waited for by a call.
 */
export class CallWebhooks {
  readonly #agent: AgentConfig;
  readonly #log: Logger;
  readonly #deliveries = new Set<Promise<void>>();
  readonly #retryDelays: readonly number[];
  #callTool: HookToolCaller | undefined;

  constructor(options: { agent: AgentConfig; logger: Logger; retryDelaysMs?: readonly number[] }) {
    this.#agent = options.agent;
    this.#log = options.logger;
    this.#retryDelays = options.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
  }

  /** Where tool hooks go (the agent's tools, once they exist). */
  useTools(callTool: HookToolCaller): void {
    this.#callTool = callTool;
  }

  /** A change of a call's record (a {@link CallLedger} listener). */
  onRecord(moment: RecordMoment, r: CallRecord): void {
    if (moment === 'message') {
      this.#send('message.taken', {
        callSid: r.callSid,
        agent: r.agent.name,
        from: r.from,
        message: r.messages.at(-1),
      });
    } else if (moment === 'voicemail') {
      this.#send('voicemail.left', {
        callSid: r.callSid,
        agent: r.agent.name,
        from: r.from,
        voicemail: r.voicemail,
      });
    } else if (moment === 'final') {
      this.#send('call.ended', {
        callSid: r.callSid,
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
        ...(r.postCall ? { postCall: r.postCall } : {}),
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
      const delivery =
        'url' in hook
          ? this.#deliver(hook.url, hook.secret, event, JSON.stringify({ event, ...data }))
          : this.#handToTool(hook.tool, event, data);
      this.#deliveries.add(delivery);
      void delivery.finally(() => this.#deliveries.delete(delivery));
    }
  }

  /** Runs `attempt` (true: delivered) once and again after each retry delay, until it succeeds. */
  async #withRetries(attempt: (n: number) => Promise<boolean>): Promise<boolean> {
    for (let n = 0; n <= this.#retryDelays.length; n++) {
      if (n > 0) await sleep(this.#retryDelays[n - 1]!);
      if (await attempt(n + 1)) return true;
    }
    return false;
  }

  async #handToTool(tool: string, event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
    const callTool = this.#callTool;
    if (!callTool) return; // a simulation without tool servers (a replayed cassette)
    const delivered = await this.#withRetries(async (attempt) => {
      const result = await callTool(tool, { event, data }, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS));
      if (result.ok) return true;
      // the failure text is the tool's own words (it may echo data): the log keeps its code and length
      this.#log.warn(
        { tool, event, attempt, code: result.code, errorChars: result.output.length },
        'webhook tool failed',
      );
      return false;
    });
    if (!delivered) this.#log.error({ tool, event }, 'gave up handing a webhook to its tool');
  }

  async #deliver(url: string, secret: string, event: WebhookEvent, body: string): Promise<void> {
    // the URL may carry a token: logs name only its host
    const where = new URL(url).host;
    const delivered = await this.#withRetries(async (attempt) => {
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
          // a redirect would carry the signed body (and any token in the URL) somewhere unconfigured
          redirect: 'manual',
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        if (res.ok) return true;
        this.#log.warn({ webhook: where, event, status: res.status, attempt }, 'webhook refused');
      } catch (error) {
        this.#log.warn(
          { webhook: where, event, attempt, reason: errorMessage(error) },
          'webhook unreachable',
        );
      }
      return false;
    });
    if (!delivered) this.#log.error({ webhook: where, event }, 'gave up delivering a webhook');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
