import type { CallOutcome, ModelSession } from '../bridge/ports.js';
import type { AnsweredBy } from '../telephony/twilio/outbound-call.js';
import type { CallBrief } from './calls/call-brief.js';
import type { Parties, SharedCalls, StreamClaim } from './calls/shared-calls.js';
import { mintStreamToken, verifyStreamToken } from './calls/stream-token.js';

export type { AnsweredBy } from '../telephony/twilio/outbound-call.js';
export type { Parties } from './calls/shared-calls.js';

/**
 * One server's view of the calls: the {@link SharedCalls} every process shares (admission under the
 * global limit, the one use of each stream token, how each stream ended) and, in this process only,
 * the model sessions pre-warmed while Twilio opens the stream. A stream that lands on another
 * process opens its own session there; the one pre-warmed here is closed when it times out.
 */

/** How long a pre-warmed model session waits for Twilio's stream before it is closed. */
export const DEFAULT_PREWARM_TIMEOUT_MS = 15_000;

export type Registration = { kind: 'admitted' | 'repeated'; token: string } | { kind: 'full'; live: number };

export type Claim =
  /** `leg`: 1 for the call's first stream, 2 after a return from a transfer nobody answered, … */
  (StreamClaim & { ok: true; model: ModelSession | undefined; leg: number }) | { ok: false; reason: string };

export class CallRegistry {
  readonly shared: SharedCalls;
  readonly #agent: string;
  readonly #key: Buffer;
  readonly #maxConcurrent: number | undefined;
  readonly #prewarmTimeoutMs: number;
  readonly #prewarmed = new Map<string, { model: ModelSession | undefined; timer: NodeJS.Timeout }>();

  constructor(options: {
    shared: SharedCalls;
    agent: string;
    /** The stream tokens' HMAC key (the same on every process of a deployment). */
    tokenKey: Buffer;
    /** `call.max_concurrent`: live calls of this agent across every process. */
    maxConcurrent?: number;
    prewarmTimeoutMs?: number;
  }) {
    this.shared = options.shared;
    this.#agent = options.agent;
    this.#key = options.tokenKey;
    this.#maxConcurrent = options.maxConcurrent;
    this.#prewarmTimeoutMs = options.prewarmTimeoutMs ?? DEFAULT_PREWARM_TIMEOUT_MS;
  }

  /**
   * Admits an incoming call and returns its stream token. Idempotent per CallSid: a repeated webhook
   * (a Twilio retry, or a replayed request) gets a token for the same leg, whose stream can start
   * only once, and opens nothing; `prewarm` runs only for a call admitted now.
   */
  async register(
    callSid: string,
    prewarm: () => ModelSession | undefined,
    parties: Parties = {},
    brief: CallBrief = { direction: 'inbound' },
  ): Promise<Registration> {
    const admission = await this.shared.admit({
      callSid,
      agent: this.#agent,
      brief,
      parties,
      ...(this.#maxConcurrent === undefined ? {} : { maxConcurrent: this.#maxConcurrent }),
    });
    if (admission.kind === 'full') return admission;
    if (admission.kind === 'admitted') this.#prewarm(callSid, prewarm());
    const instance = admission.kind === 'repeated' ? admission.instance : this.shared.instance;
    // minted from the admission's time: a repeated webhook gets the very same TwiML
    const grant = { callSid, agent: this.#agent, leg: admission.leg, instance };
    return { kind: admission.kind, token: mintStreamToken(this.#key, grant, admission.since) };
  }

  /**
   * A stream's `start`: checks its token (minted for this call and agent, not expired), claims the
   * leg's one stream, and hands over the session pre-warmed here, if any (it may be undefined, or
   * closed if it failed meanwhile).
   */
  async claim(callSid: string, token: string | undefined): Promise<Claim> {
    const verified = verifyStreamToken(this.#key, token, { callSid, agent: this.#agent });
    if (!verified.ok) return verified;
    const claim = await this.shared.claim(callSid, verified.grant.leg);
    if (!claim) return { ok: false, reason: 'a token already used (a replayed or duplicate stream)' };
    const held = this.#prewarmed.get(callSid);
    this.#prewarmed.delete(callSid);
    if (held) clearTimeout(held.timer);
    return { ok: true, ...claim, model: held?.model, leg: verified.grant.leg };
  }

  /**
   * The caller is back from a transfer nobody answered: the same call gets a new stream (a token
   * for its next leg, a session pre-warmed on the `next` brief). Undefined when the call did not
   * end in a transfer (the caller then gets the voicemail offer instead).
   */
  async resume(
    callSid: string,
    next: (earlier: CallBrief) => CallBrief,
    prewarm: (brief: CallBrief) => ModelSession | undefined,
  ): Promise<string | undefined> {
    let brief: CallBrief | undefined;
    const leg = await this.shared.resume(callSid, (earlier) => {
      brief = next(earlier);
      return brief;
    });
    if (leg === undefined || !brief) return undefined;
    this.#prewarm(callSid, prewarm(brief));
    return mintStreamToken(this.#key, { callSid, agent: this.#agent, leg, instance: this.shared.instance });
  }

  /** Answering-machine detection: kept for the stream to come, or sent to the process that holds it. */
  answeredBy(callSid: string, by: AnsweredBy) {
    return this.shared.answeredBy(callSid, by);
  }

  recordOutcome(callSid: string, outcome: CallOutcome): Promise<void> {
    return this.shared.ended(callSid, outcome);
  }

  /** What happened to a call's stream, for the action URL (see {@link SharedCalls.outcomeOf}). */
  outcomeOf(callSid: string): Promise<CallOutcome> {
    return this.shared.outcomeOf(callSid);
  }

  awaitingAction(callSids: readonly string[]): Promise<string[]> {
    return this.shared.awaitingAction(callSids);
  }

  close(): void {
    for (const { model, timer } of this.#prewarmed.values()) {
      clearTimeout(timer);
      model?.close();
    }
    this.#prewarmed.clear();
  }

  #prewarm(callSid: string, model: ModelSession | undefined): void {
    const earlier = this.#prewarmed.get(callSid);
    if (earlier) {
      clearTimeout(earlier.timer);
      earlier.model?.close();
    }
    const timer = setTimeout(() => {
      this.#prewarmed.get(callSid)?.model?.close();
      this.#prewarmed.delete(callSid);
    }, this.#prewarmTimeoutMs);
    timer.unref();
    this.#prewarmed.set(callSid, { model, timer });
  }
}
