import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The stand-in's `GET /v1/models/{id}`: the Model object of the service (`id`, `object`, `created`,
 * `owned_by`, `shutdown_date`), 401 without the key, 404 `model_not_found` for a model it does not
 * serve. Its catalogue is its own, kept apart from src/config on purpose (the stand-in must not agree
 * with a slip in ours), from OpenAI's deprecations page as read on 2026-12-07.
 */
const CATALOGUE: Readonly<Record<string, string | null>> = {
  'gpt-realtime': '2027-01-20',
  'gpt-realtime-2025-08-28': '2027-01-20',
  'gpt-realtime-mini': '2027-01-20',
  'gpt-realtime-mini-2025-12-15': '2027-01-20',
  'gpt-realtime-1.5': null,
  'gpt-realtime-2': null,
  'gpt-realtime-2.1': null,
  'gpt-realtime-2.1-mini': null,
  'gpt-live-1': null,
  'gpt-live-1.1': null,
  'gpt-live-transcribe': null,
  'gpt-transcribe': null,
  'gpt-realtime-whisper': null,
  'gpt-4o-mini-transcribe': '2027-02-26',
  'gpt-4o-mini-transcribe-2025-12-15': '2027-02-26',
  'gpt-4o-transcribe': '2027-02-26',
  'gpt-4o-transcribe-diarize': '2027-02-26',
  'whisper-1': '2027-02-26',
  'gpt-5': '2026-12-11',
  'gpt-5-mini': '2026-12-11',
  'gpt-6-luna': null,
  'gpt-6.1-sol': null,
  'gpt-6.1-terra': null,
};

/** Answers `GET /v1/models/{id}`; `overrides` change or add shutdown dates (a test's calendar). */
export function handleModel(
  req: IncomingMessage,
  res: ServerResponse,
  apiKey: string,
  overrides: Readonly<Record<string, string | null>>,
): void {
  const json = (status: number, body: unknown) =>
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  if (req.headers.authorization !== `Bearer ${apiKey}`) {
    json(401, {
      error: {
        message: 'Incorrect API key provided.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    return;
  }
  const id = decodeURIComponent((req.url ?? '').slice('/v1/models/'.length).split('?')[0] ?? '');
  const catalogue = { ...CATALOGUE, ...overrides };
  if (!(id in catalogue)) {
    json(404, {
      error: {
        message: `The model '${id}' does not exist or you do not have access to it.`,
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
    return;
  }
  json(200, {
    id,
    object: 'model',
    created: 1_764_000_000,
    owned_by: 'system',
    shutdown_date: catalogue[id],
  });
}
