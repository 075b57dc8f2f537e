/**
 * OpenAI's published shutdown calendar for the models an agent can use, known offline so `validate`
 * can warn without a key. `serve` asks the service itself (`GET /v1/models/{id}` → `shutdown_date`)
 * and uses this table only for the replacement's name, which the service does not return.
 *
 * Source: developers.openai.com/api/docs/deprecations (the "Upcoming deprecations" table, read
 * 2026-12-07) and the `Deprecated values` notes of the `openai` package 7.60.0
 * (`resources/realtime/realtime.d.ts`). Update both columns together when OpenAI announces more.
 */

export interface ModelRetirement {
  /** YYYY-MM-DD: from this day the model no longer answers. */
  shutdown: string;
  /** OpenAI's recommended replacement. */
  replacement: string;
}

/** What the model is used for, as the messages name it. */
export type ModelRole = 'speech' | 'transcription' | 'post-call' | 'delegation';

const REALTIME_2027_01_20 = { shutdown: '2027-01-20', replacement: 'gpt-realtime-2.1' };
const REALTIME_MINI_2027_01_20 = { shutdown: '2027-01-20', replacement: 'gpt-realtime-2.1-mini' };
const TRANSCRIBE_2027_02_26 = { shutdown: '2027-02-26', replacement: 'gpt-live-transcribe' };
const GPT_4_2027_01_14 = { shutdown: '2027-01-14', replacement: 'gpt-6-luna' };

export const MODEL_RETIREMENTS: Readonly<Record<string, ModelRetirement>> = {
  // speech-to-speech (Realtime)
  'gpt-realtime': REALTIME_2027_01_20,
  'gpt-realtime-2025-08-28': REALTIME_2027_01_20,
  'gpt-realtime-mini': REALTIME_MINI_2027_01_20,
  'gpt-realtime-mini-2025-10-06': REALTIME_MINI_2027_01_20,
  'gpt-realtime-mini-2025-12-15': REALTIME_MINI_2027_01_20,
  'gpt-audio-mini': REALTIME_MINI_2027_01_20,
  'gpt-audio-mini-2025-12-15': REALTIME_MINI_2027_01_20,
  // transcription
  'whisper-1': TRANSCRIBE_2027_02_26,
  'gpt-4o-mini-transcribe': TRANSCRIBE_2027_02_26,
  'gpt-4o-mini-transcribe-2025-12-15': TRANSCRIBE_2027_02_26,
  'gpt-4o-transcribe': TRANSCRIBE_2027_02_26,
  'gpt-4o-transcribe-diarize': TRANSCRIBE_2027_02_26,
  // text models (post-call analysis, GPT-Live delegation)
  'gpt-5': { shutdown: '2026-12-11', replacement: 'gpt-6.1-sol' },
  'gpt-5-2025-08-07': { shutdown: '2026-12-11', replacement: 'gpt-6.1-sol' },
  'gpt-5-mini': { shutdown: '2026-12-11', replacement: 'gpt-6.1-terra' },
  'gpt-5-mini-2025-08-07': { shutdown: '2026-12-11', replacement: 'gpt-6.1-terra' },
  'gpt-4o': GPT_4_2027_01_14,
  'gpt-4o-mini': GPT_4_2027_01_14,
  'gpt-4.1': GPT_4_2027_01_14,
  'gpt-4.1-mini': GPT_4_2027_01_14,
};

/** A model is warned about this many days before it shuts down. */
export const SHUTDOWN_WARNING_DAYS = 90;

const DAY_MS = 86_400_000;

export interface LifecycleFinding {
  role: ModelRole;
  model: string;
  shutdown: string;
  replacement: string | undefined;
  /** Whole days from `now` to the shutdown; 0 or less: it has shut down. */
  daysLeft: number;
}

/** Days from `now` to the start of `date` (UTC), rounded up: tomorrow is 1, today 0. */
export function daysUntil(date: string, now: Date): number {
  return Math.ceil((Date.parse(`${date}T00:00:00Z`) - now.getTime()) / DAY_MS);
}

/**
 * Judges one model against a shutdown date (the service's, else the offline table's): `undefined`
 * when it is further away than {@link SHUTDOWN_WARNING_DAYS} or there is none.
 */
export function lifecycleOf(
  role: ModelRole,
  model: string,
  now: Date,
  shutdown: string | null | undefined = MODEL_RETIREMENTS[model]?.shutdown,
): LifecycleFinding | undefined {
  if (!shutdown || !/^\d{4}-\d{2}-\d{2}$/.test(shutdown)) return undefined;
  const daysLeft = daysUntil(shutdown, now);
  if (daysLeft > SHUTDOWN_WARNING_DAYS) return undefined;
  return { role, model, shutdown, replacement: MODEL_RETIREMENTS[model]?.replacement, daysLeft };
}

/** One line for the banner, `validate` and `/readyz`. */
export function describeLifecycle(f: LifecycleFinding): string {
  const instead = f.replacement ? `; use ${f.replacement}` : '';
  return f.daysLeft <= 0
    ? `the ${f.role} model ${f.model} was shut down by OpenAI on ${f.shutdown}${instead}`
    : `the ${f.role} model ${f.model} shuts down on ${f.shutdown} (in ${f.daysLeft} day${f.daysLeft === 1 ? '' : 's'})${instead}`;
}

/** Every OpenAI model an agent's calls use, with what for. */
export function modelsOf(agent: {
  engine: 'realtime' | 'live';
  model: string;
  realtime: { transcription: { model: string; enabled?: boolean } };
  live: { model: string; delegation: string; responses: { model: string } };
  post_call?: { model: string } | undefined;
}): { role: ModelRole; model: string }[] {
  const models: { role: ModelRole; model: string }[] =
    agent.engine === 'live'
      ? [
          { role: 'speech', model: agent.live.model },
          ...(agent.live.delegation === 'responses'
            ? [{ role: 'delegation' as const, model: agent.live.responses.model }]
            : []),
        ]
      : [
          { role: 'speech', model: agent.model },
          ...(agent.realtime.transcription.enabled === false
            ? []
            : [{ role: 'transcription' as const, model: agent.realtime.transcription.model }]),
        ];
  if (agent.post_call) models.push({ role: 'post-call', model: agent.post_call.model });
  return models;
}
