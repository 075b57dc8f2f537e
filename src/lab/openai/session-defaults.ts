import { id } from './ids.js';

/** The service's session lifetime: a GA Realtime session ends after 60 minutes. */
export const SESSION_LIFETIME_S = 60 * 60;

/**
 * The configuration `session.created` carries, as the GA service sends it before any update: its
 * defaults (PCM 24 kHz, server VAD, no tools), the model from the URL and `expires_at`.
 */
export function defaultSession(model: string, lifetimeS = SESSION_LIFETIME_S): Record<string, unknown> {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: id('sess'),
    model,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    truncation: 'auto',
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + lifetimeS,
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: null,
        noise_reduction: null,
        turn_detection: {
          type: 'server_vad',
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 200,
          idle_timeout_ms: null,
          create_response: true,
          interrupt_response: true,
        },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
    },
    include: null,
  };
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/**
 * A partial `session.update` changes only the fields present ("only the fields that are present are
 * updated"; openai 7.60 `SessionUpdateEvent`): objects are merged key by key, everything else
 * (lists, strings, null) replaces. An object of another `type` (format, turn detection) replaces the whole.
 */
export function mergeSession(
  config: Record<string, unknown>,
  update: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...config };
  for (const [key, value] of Object.entries(update)) {
    const current = merged[key];
    // a union member of another kind (an audio format, a turn detection) replaces the whole object
    const replaceWhole =
      isPlain(value) &&
      isPlain(current) &&
      'type' in value &&
      'type' in current &&
      value.type !== current.type;
    merged[key] = isPlain(value) && isPlain(current) && !replaceWhole ? mergeSession(current, value) : value;
  }
  return merged;
}
