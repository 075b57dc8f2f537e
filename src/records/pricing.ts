import type { ModelUsage } from '../bridge/ports.js';
import { type AgentConfig, speechModelOf } from '../config/schema.js';

/** USD per million tokens, by kind; transcription in USD per minute of caller speech. */
export interface Prices {
  text_input: number;
  cached_text_input: number;
  text_output: number;
  audio_input: number;
  cached_audio_input: number;
  audio_output: number;
  /** Models billed by the session minute (GPT-Live), silence included. */
  session_per_minute?: number;
}

/**
 * OpenAI's published prices (developers.openai.com/api/docs/models, read 2026-12-07). Override them
 * in the agent file (`records.prices`) when yours differ or for a model not listed here.
 */
const FLAGSHIP: Prices = {
  text_input: 4,
  cached_text_input: 0.4,
  text_output: 16,
  audio_input: 32,
  cached_audio_input: 0.4,
  audio_output: 64,
};
const MINI: Prices = {
  text_input: 0.6,
  cached_text_input: 0.06,
  text_output: 2.4,
  audio_input: 10,
  cached_audio_input: 0.3,
  audio_output: 20,
};

/** The reasoning generation (gpt-realtime-2 and 2.1): text output at $24. */
const REASONING: Prices = { ...FLAGSHIP, text_output: 24 };

/**
 * GPT-Live: per session minute, billed per second. gpt-live-1 at a flat $0.05 (the brief in
 * shared/reference/gpt-live.md); gpt-live-1.1 at $0.05 per active minute and $0.02 per standby
 * minute (its model page, 2026-11-20): costed here at the active rate, an upper bound, since the
 * session does not report which minutes were standby. The delegated Responses model's tokens are
 * billed on top and are not in this cost.
 */
const LIVE: Prices = {
  text_input: 0,
  cached_text_input: 0,
  text_output: 0,
  audio_input: 0,
  cached_audio_input: 0,
  audio_output: 0,
  session_per_minute: 0.05,
};

export const MODEL_PRICES: Record<string, Prices> = {
  'gpt-live-1': LIVE,
  'gpt-live-1.1': LIVE,
  'gpt-realtime': FLAGSHIP,
  'gpt-realtime-1.5': FLAGSHIP,
  'gpt-realtime-2': REASONING,
  'gpt-realtime-2.1': REASONING,
  'gpt-realtime-mini': MINI,
  'gpt-realtime-2.1-mini': MINI,
};

/**
 * Transcription of caller speech (USD per minute; the token-billed models at their published
 * per-minute estimate). Billed on top of the model.
 */
export const TRANSCRIPTION_PRICES_PER_MINUTE: Record<string, number> = {
  'gpt-live-transcribe': 0.017,
  'gpt-realtime-whisper': 0.017,
  'gpt-transcribe': 0.0045,
  'gpt-4o-mini-transcribe': 0.003,
  'gpt-4o-mini-transcribe-2025-12-15': 0.003,
  'gpt-4o-transcribe-diarize': 0.006,
  'gpt-4o-transcribe': 0.006,
  'whisper-1': 0.006,
};

export function emptyUsage(): ModelUsage {
  return {
    inputTextTokens: 0,
    inputAudioTokens: 0,
    cachedTextTokens: 0,
    cachedAudioTokens: 0,
    outputTextTokens: 0,
    outputAudioTokens: 0,
  };
}

export function addUsage(total: ModelUsage, more: ModelUsage): void {
  total.inputTextTokens += more.inputTextTokens;
  total.inputAudioTokens += more.inputAudioTokens;
  total.cachedTextTokens += more.cachedTextTokens;
  total.cachedAudioTokens += more.cachedAudioTokens;
  total.outputTextTokens += more.outputTextTokens;
  total.outputAudioTokens += more.outputAudioTokens;
}

export interface CallCost {
  currency: 'USD';
  /** Model plus transcription; undefined when the model's prices are unknown. */
  total: number | undefined;
  model: number | undefined;
  transcription: number | undefined;
  /** Why a part is missing (e.g. no prices for the model). */
  note?: string;
}

/** What a call cost: tokens at the model's prices (cached input at its own rate) + transcription. */
export function costOf(o: {
  usage: ModelUsage;
  prices: Prices | undefined;
  callerSpeechMs: number;
  transcriptionPerMinute: number | undefined;
  /** How long the model session was open (per-minute models). */
  sessionMs?: number;
}): CallCost {
  const { usage: u, prices: p } = o;
  const perToken = 1 / 1_000_000;
  const model = p
    ? ((u.inputTextTokens - u.cachedTextTokens) * p.text_input +
        u.cachedTextTokens * p.cached_text_input +
        (u.inputAudioTokens - u.cachedAudioTokens) * p.audio_input +
        u.cachedAudioTokens * p.cached_audio_input +
        u.outputTextTokens * p.text_output +
        u.outputAudioTokens * p.audio_output) *
        perToken +
      ((o.sessionMs ?? 0) / 60_000) * (p.session_per_minute ?? 0)
    : undefined;
  const transcription =
    o.transcriptionPerMinute === undefined
      ? undefined
      : (o.callerSpeechMs / 60_000) * o.transcriptionPerMinute;
  return {
    currency: 'USD',
    total: model === undefined ? undefined : round(model + (transcription ?? 0)),
    model: model === undefined ? undefined : round(model),
    transcription: transcription === undefined ? undefined : round(transcription),
    ...(p ? {} : { note: 'no prices for this model: set records.prices in the agent file' }),
  };
}

/** To a millionth of a dollar: enough for sums over many calls. */
function round(usd: number): number {
  return Math.round(usd * 1_000_000) / 1_000_000;
}

/** The prices a call of this agent is costed at: the agent file's `records.prices`, else OpenAI's. */
export function pricingFor(agent: AgentConfig): {
  prices: Prices | undefined;
  transcriptionPerMinute: number | undefined;
} {
  const own = agent.records.prices;
  // GPT-Live transcribes within its session price; Realtime bills transcription on top
  const transcription =
    agent.engine === 'live' || !agent.realtime.transcription.enabled
      ? undefined
      : agent.realtime.transcription.model;
  const perMinute = transcription === undefined ? undefined : TRANSCRIPTION_PRICES_PER_MINUTE[transcription];
  if (!own) return { prices: MODEL_PRICES[speechModelOf(agent)], transcriptionPerMinute: perMinute };
  const { transcription_per_minute, ...prices } = own;
  return {
    prices,
    transcriptionPerMinute: transcription_per_minute ?? perMinute,
  };
}
