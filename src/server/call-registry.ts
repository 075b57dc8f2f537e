import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { CallOutcome, ModelSession } from '../bridge/ports.js';
import type { CallBrief } from './call-brief.js';

/**
 * Calls the server knows about, keyed by CallSid: the one-time stream token minted in the webhook,
 * the pre-warmed model session waiting for the stream, and — after the stream ends — the
 * outcome the `<Connect action>` URL answers from. One instance per server; no module state.
 */

/** How long a pre-warmed model session waits for Twilio's stream before it is closed. */
export const DEFAULT_PREWARM_TIMEOUT_MS = 15_000;
/** How long an outcome is kept for Twilio's action request. */
export const OUTCOME_TTL_MS = 10 * 60_000;

/** Who called whom (kept for the call's record). */
export interface Parties {
  from?: string;
  to?: string;
}

/** Who answered an outbound call (answering-machine detection). */
export type AnsweredBy = 'human' | 'machine' | 'fax' | 'unknown';

interface Entry {
  token: string;
  parties: Parties;
  brief: CallBrief;
  /** Answering-machine detection that came before the stream started. */
  answeredBy?: AnsweredBy;
  model: ModelSession | undefined;
  claimed: boolean;
  outcome: CallOutcome | undefined;
  /** Twilio has asked the `<Connect action>` URL what next. */
  actionAnswered: boolean;
  timer: NodeJS.Timeout;
}

export class CallRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #prewarmTimeoutMs: number;

  constructor(options: { prewarmTimeoutMs?: number } = {}) {
    this.#prewarmTimeoutMs = options.prewarmTimeoutMs ?? DEFAULT_PREWARM_TIMEOUT_MS;
  }

  /**
   * Registers an incoming call and returns its one-time stream token. Idempotent per CallSid: a
   * repeated webhook (a Twilio retry, or a replayed request) gets the same token and opens nothing;
   * `prewarm` runs only for a call not seen before.
   */
  register(
    callSid: string,
    prewarm: () => ModelSession | undefined,
    parties: Parties = {},
    brief: CallBrief = { direction: 'inbound' },
  ): { token: string; repeated: boolean } {
    const known = this.#entries.get(callSid);
    if (known) return { token: known.token, repeated: true };
    const token = randomBytes(24).toString('base64url');
    const timer = setTimeout(() => this.#expirePrewarm(callSid), this.#prewarmTimeoutMs);
    timer.unref();
    this.#entries.set(callSid, {
      token,
      parties,
      brief,
      model: prewarm(),
      claimed: false,
      outcome: undefined,
      actionAnswered: false,
      timer,
    });
    return { token, repeated: false };
  }

  /**
   * Validates the token from a stream's `start` and hands over the pre-warmed model session (which may
   * be undefined if it expired). Returns false for an unknown call, a wrong or reused token.
   */
  claim(
    callSid: string,
    token: string | undefined,
  ):
    | {
        ok: true;
        model: ModelSession | undefined;
        parties: Parties;
        brief: CallBrief;
        answeredBy?: AnsweredBy;
      }
    | { ok: false } {
    const entry = this.#entries.get(callSid);
    if (!entry || entry.claimed || !token || !sameSecret(entry.token, token)) return { ok: false };
    entry.claimed = true;
    clearTimeout(entry.timer);
    const model = entry.model;
    entry.model = undefined;
    return {
      ok: true,
      model,
      parties: entry.parties,
      brief: entry.brief,
      ...(entry.answeredBy ? { answeredBy: entry.answeredBy } : {}),
    };
  }

  /** The call's brief (an answering machine's message, for the AMD callback). */
  briefOf(callSid: string): CallBrief | undefined {
    return this.#entries.get(callSid)?.brief;
  }

  /**
   * The caller is back from a transfer nobody answered: the same call gets a new stream (a new
   * one-time token, a pre-warmed session on `next` brief). Undefined when the call is not one whose
   * transfer this server knows (the caller then gets the voicemail offer instead).
   */
  resume(
    callSid: string,
    next: (earlier: CallBrief) => CallBrief,
    prewarm: (brief: CallBrief) => ModelSession | undefined,
  ): string | undefined {
    const entry = this.#entries.get(callSid);
    if (!entry?.claimed || entry.outcome?.kind !== 'transfer') return undefined;
    entry.token = randomBytes(24).toString('base64url');
    entry.claimed = false;
    entry.outcome = undefined;
    entry.actionAnswered = false;
    entry.brief = next(entry.brief);
    entry.model = prewarm(entry.brief);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.#expirePrewarm(callSid), this.#prewarmTimeoutMs);
    entry.timer.unref();
    return entry.token;
  }

  /** Keeps a detection that came before the call's stream, for {@link claim}. */
  answeredBefore(callSid: string, by: AnsweredBy): void {
    const entry = this.#entries.get(callSid);
    if (entry && !entry.claimed) entry.answeredBy = by;
  }

  recordOutcome(callSid: string, outcome: CallOutcome): void {
    const entry = this.#entries.get(callSid);
    if (!entry) return;
    entry.outcome = outcome;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.#entries.delete(callSid), OUTCOME_TTL_MS);
    entry.timer.unref();
  }

  /**
   * What happened to a call's stream, for the action URL. A call whose stream never started, or that
   * we do not know, counts as failed: the caller should hear the fallback, not silence.
   */
  outcomeOf(callSid: string): CallOutcome {
    const entry = this.#entries.get(callSid);
    if (entry) entry.actionAnswered = true;
    return (
      entry?.outcome ??
      (entry
        ? { kind: 'failed', code: 'stream_never_started', reason: 'the media stream never started' }
        : { kind: 'failed', code: 'unknown_call', reason: 'unknown call' })
    );
  }

  /** Of these calls, those whose `<Connect action>` request has not come yet. */
  awaitingAction(callSids: Iterable<string>): string[] {
    return [...callSids].filter((sid) => {
      const entry = this.#entries.get(sid);
      return entry !== undefined && !entry.actionAnswered;
    });
  }

  /** Pre-warmed sessions currently open (for health and tests). */
  get prewarmed(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.model) n++;
    return n;
  }

  close(): void {
    for (const callSid of [...this.#entries.keys()]) this.#drop(callSid);
  }

  #expirePrewarm(callSid: string): void {
    const entry = this.#entries.get(callSid);
    if (!entry) return;
    entry.model?.close();
    entry.model = undefined;
    entry.timer = setTimeout(() => this.#entries.delete(callSid), OUTCOME_TTL_MS);
    entry.timer.unref();
  }

  #drop(callSid: string): void {
    const entry = this.#entries.get(callSid);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.model?.close();
    this.#entries.delete(callSid);
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
