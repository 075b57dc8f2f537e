import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * Validates client events against OpenAI's published Realtime schemas (a copy of the project's
 * reference, test/fixtures/openai/realtime-events.schema.json, so the check runs on any clone). The
 * schemas allow extra properties, so beta-era keys are caught by an explicit deny-list.
 */
export const SCHEMA_PATH = fileURLToPath(
  new URL('../fixtures/openai/realtime-events.schema.json', import.meta.url),
);

/** Keys that only the shut-down beta interface used, wherever they appear in a session or response. */
const BETA_KEYS = [
  'modalities',
  'input_audio_format',
  'output_audio_format',
  'input_audio_transcription',
  'input_audio_noise_reduction',
  'max_response_output_tokens',
  'temperature',
];
/** Keys that moved under `audio.*` in GA and must not appear at the session/response top level. */
const MOVED_KEYS = ['voice', 'turn_detection'];

let validators: Map<string, ValidateFunction> | undefined;
let serverValidators: Map<string, ValidateFunction> | undefined;

/** OpenAPI's `nullable: true` is not JSON Schema: turn it into a `null` type, in place. */
function dropNullable(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(dropNullable);
  if (!node || typeof node !== 'object') return;
  const n = node as Record<string, unknown>;
  if (n.nullable === true) {
    if (typeof n.type === 'string') n.type = [n.type, 'null'];
    else if (!n.type) {
      const branches = (n.anyOf ?? n.oneOf) as unknown[] | undefined;
      if (branches) branches.push({ type: 'null' });
    }
  }
  delete n.nullable;
  for (const value of Object.values(n)) dropNullable(value);
}

function load(): Map<string, ValidateFunction> {
  if (validators) return validators;
  const doc = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as {
    components: { schemas: Record<string, { properties?: { type?: { enum?: string[]; const?: string } } }> };
  };
  dropNullable(doc);
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(doc, 'realtime');
  validators = new Map();
  serverValidators = new Map();
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const server = name.startsWith('RealtimeServerEvent') && name !== 'RealtimeServerEvent';
    const client = name.startsWith('RealtimeClientEvent') && name !== 'RealtimeClientEvent';
    if (!server && !client) continue;
    const type = schema.properties?.type?.const ?? schema.properties?.type?.enum?.[0];
    if (type)
      (server ? serverValidators : validators).set(
        type,
        ajv.getSchema(`realtime#/components/schemas/${name}`)!,
      );
  }
  return validators;
}

/** Problems with one client event; empty when it conforms. */
export function conformanceProblems(event: Record<string, unknown>): string[] {
  const type = String(event.type);
  const validate = load().get(type);
  if (!validate) return [`unknown client event type ${type}`];
  const problems: string[] = [];
  if (!validate(event)) {
    for (const e of validate.errors ?? []) problems.push(`${type}${e.instancePath}: ${e.message}`);
  }
  const sections = [
    ['session', event.session],
    ['response', event.response],
  ] as const;
  for (const [where, section] of sections) {
    if (!section || typeof section !== 'object') continue;
    for (const key of [...BETA_KEYS, ...MOVED_KEYS]) {
      if (key in section) problems.push(`${type}: beta-era key ${where}.${key}`);
    }
  }
  return problems;
}

/** Validates many events, de-duplicating identical shapes (the audio appends are all alike). */
export function nonConformingEvents(events: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const event of events) {
    const key =
      event.type === 'input_audio_buffer.append' ? `append:${typeof event.audio}` : JSON.stringify(event);
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(...conformanceProblems(event));
  }
  return problems;
}

/**
 * Problems with one server event the stand-in sent; empty when it conforms. An event type the
 * schema does not list is a problem too: the stand-in must not invent events.
 */
export function serverEventProblems(event: Record<string, unknown>): string[] {
  load();
  const type = String(event.type);
  const validate = serverValidators!.get(type);
  if (!validate) return [`unknown server event type ${type}`];
  if (validate(withoutNulls(event))) return [];
  return (validate.errors ?? []).map((e) => `${type}${e.instancePath}: ${e.message}`);
}

/**
 * The live service sends `null` for unset fields that the published schema types as objects or
 * strings (recorded GA traffic: `"transcription":null`, `"noise_reduction":null`, `"include":null` in
 * session.created; `"transcript":null` on a user's input_audio): an optional null is read as absent.
 * A required field sent as null then shows as missing, so that is still caught.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}
