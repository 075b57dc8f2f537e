import { apiUrlBeside } from '../config/model-url.js';
import type { PostCallConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { CallRecord } from './call-record.js';

/** What the post-call analysis left in a record: the filled schema, or why there is none. */
export interface PostCallResult {
  model: string;
  /** The JSON the model filled (valid against the agent's `post_call.schema`). */
  data?: Record<string, unknown>;
  error?: string;
  usage?: { inputTokens: number; outputTokens: number };
  durationMs: number;
}

/**
 * The Responses endpoint beside a model's: `wss://host/v1/realtime` (or `/v1/live/sessions`) →
 * `https://host/v1/responses`.
 */
export function responsesUrlBeside(modelUrl: string): string {
  return apiUrlBeside(modelUrl, 'responses');
}

const INSTRUCTIONS =
  'You read the record of a phone call handled by an AI voice agent and fill the JSON schema you are given. ' +
  'Use only what the call record says (the transcript, tool calls and their results, messages taken). ' +
  'When the call does not say something, use null. Never invent addresses, dates, prices or references.';

/**
 * After a call: one Responses API request that fills the agent's `post_call.schema` from the record
 * (structured outputs, strict). `store: false` keeps the caller's words out of OpenAI's stored
 * responses. Never throws: a failure is the result's `error`, and the call's record is kept anyway.
 */
export async function analyzeCall(
  record: CallRecord,
  o: { config: PostCallConfig; url: string; apiKey: string; signal?: AbortSignal },
): Promise<PostCallResult> {
  const started = Date.now();
  const result = (r: Omit<PostCallResult, 'model' | 'durationMs'>): PostCallResult => ({
    model: o.config.model,
    ...r,
    durationMs: Date.now() - started,
  });
  const body = {
    model: o.config.model,
    instructions: o.config.instructions ? `${INSTRUCTIONS}\n\n${o.config.instructions}` : INSTRUCTIONS,
    input: callForAnalysis(record),
    text: {
      format: {
        type: 'json_schema',
        name: 'call_outcome',
        schema: strictSchema(o.config.schema),
        strict: true,
      },
    },
    store: false,
    max_output_tokens: 4_000,
  };
  try {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      // the key and the call's transcript go to the configured host only, never where a redirect says
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(o.config.timeout_ms), ...(o.signal ? [o.signal] : [])]),
    });
    const answer = (await res.json().catch(() => undefined)) as ResponsesAnswer | undefined;
    if (!res.ok)
      return result({
        error: `the Responses API answered ${res.status}: ${answer?.error?.message ?? 'no details'}`,
      });
    return result(readAnswer(answer));
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    return result({ error: timedOut ? `no answer within ${o.config.timeout_ms} ms` : errorMessage(error) });
  }
}

interface ResponsesAnswer {
  status?: string;
  incomplete_details?: { reason?: string } | null;
  error?: { message?: string } | null;
  output?: { type: string; content?: { type: string; text?: string; refusal?: string }[] }[];
  usage?: { input_tokens?: number; output_tokens?: number };
}

function readAnswer(answer: ResponsesAnswer | undefined): Omit<PostCallResult, 'model' | 'durationMs'> {
  if (!answer) return { error: 'the Responses API answered with no JSON' };
  const usage = answer.usage
    ? { inputTokens: answer.usage.input_tokens ?? 0, outputTokens: answer.usage.output_tokens ?? 0 }
    : undefined;
  const withUsage = usage ? { usage } : {};
  if (answer.status !== 'completed') {
    const why = answer.incomplete_details?.reason ?? answer.error?.message ?? answer.status ?? 'unknown';
    return { error: `the response did not complete (${why})`, ...withUsage };
  }
  // reasoning models put a reasoning item first: the answer is the message's output_text
  const content = answer.output?.find((item) => item.type === 'message')?.content ?? [];
  const refusal = content.find((c) => c.type === 'refusal');
  if (refusal) return { error: `the model refused: ${refusal.refusal ?? ''}`.trim(), ...withUsage };
  const text = content.find((c) => c.type === 'output_text')?.text;
  if (text === undefined) return { error: 'the response has no output_text', ...withUsage };
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      return { error: 'the model answered JSON that is not an object', ...withUsage };
    return { data: data as Record<string, unknown>, ...withUsage };
  } catch {
    return { error: 'the model answered text that is not JSON', ...withUsage };
  }
}

/**
 * The agent's schema in the form strict structured outputs demand: every object closed
 * (`additionalProperties: false`) with every property required — those the agent did not require
 * may be null instead. So agent files are written in ordinary JSON Schema.
 */
export function strictSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...schema };
  // an object with no properties listed is closed too (W10): strict mode refuses any open object
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
  if (isObject && !isRecord(schema.properties)) {
    out.properties = {};
    out.required = [];
    out.additionalProperties = false;
  }
  if (isRecord(schema.properties)) {
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => {
        const strict = isRecord(property) ? strictSchema(property) : property;
        return [name, required.has(name) || !isRecord(strict) ? strict : nullable(strict)];
      }),
    );
    out.required = Object.keys(schema.properties);
    out.additionalProperties = false;
  }
  if (isRecord(schema.items)) out.items = strictSchema(schema.items);
  for (const key of ['anyOf', '$defs', 'definitions'] as const) {
    const value = schema[key];
    if (Array.isArray(value)) out[key] = value.map((v) => (isRecord(v) ? strictSchema(v) : v));
    else if (isRecord(value))
      out[key] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isRecord(v) ? strictSchema(v) : v]),
      );
  }
  return out;
}

function nullable(schema: Record<string, unknown>): Record<string, unknown> {
  const { type } = schema;
  if (typeof type === 'string' || Array.isArray(type)) {
    const types = Array.isArray(type) ? type : [type];
    if (types.includes('null')) return schema;
    const out: Record<string, unknown> = { ...schema, type: [...types, 'null'] };
    if (Array.isArray(schema.enum)) out.enum = [...schema.enum, null];
    return out;
  }
  return { anyOf: [schema, { type: 'null' }] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The call as the analysis reads it: who, when, what was said, what the tools did, messages taken. */
export function callForAnalysis(record: CallRecord): string {
  const at = (ms: number) => {
    const s = Math.round(ms / 1000);
    return `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}]`;
  };
  const lines = [
    `Phone call ${record.from ? `from ${record.from} ` : ''}${record.to ? `to ${record.to} ` : ''}on ${record.startedAt}, ${Math.round(record.durationMs / 1000)} s; it ended: ${record.outcome.kind} (${record.outcome.reason}).`,
    '',
    'What was said and done, in order:',
  ];
  const entries: { atMs: number; line: string }[] = [
    ...record.transcript.map((t) => ({
      atMs: t.startMs,
      line: `${at(t.startMs)} ${t.role === 'caller' ? 'Caller' : 'Agent'}: ${t.text}${t.interrupted ? ' (cut off by the caller)' : ''}`,
    })),
    ...record.toolCalls.map((c) => ({
      atMs: c.atMs,
      line: `${at(c.atMs)} Tool ${c.name}${c.ok ? '' : ' (failed)'} arguments: ${c.arguments} result: ${c.output.replace(/\s*\n\s*/g, ' ')}`,
    })),
    ...record.messages.map((m) => ({
      atMs: m.atMs,
      line: `${at(m.atMs)} Message taken: name: ${m.name}; phone: ${m.phone}; message: ${m.message}`,
    })),
  ];
  entries.sort((a, b) => a.atMs - b.atMs);
  return [...lines, ...entries.map((e) => e.line)].join('\n');
}
