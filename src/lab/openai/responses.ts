import type { IncomingMessage, ServerResponse } from 'node:http';
import { id } from './session.js';

/**
 * The local stand-in of the Responses API (`POST /v1/responses`), for the post-call analysis in
 * simulations and tests. It checks requests as the service does — the key, unknown or misplaced
 * parameters, `text.format` and the rules of strict structured outputs — and answers in the
 * service's shape (a reasoning item, then the message). It understands no language: it fills the
 * schema with values the tools saw (arguments and results with the property's name), else null,
 * else the type's empty value. Error wording follows what the service is reported to answer; the
 * exact texts are unverified.
 */

/** Parameters of `POST /v1/responses` (openai 6.x `ResponseCreateParams`). */
const KNOWN_PARAMS = new Set([
  'background',
  'conversation',
  'include',
  'input',
  'instructions',
  'max_output_tokens',
  'max_tool_calls',
  'metadata',
  'model',
  'parallel_tool_calls',
  'previous_response_id',
  'prompt',
  'prompt_cache_key',
  'reasoning',
  'safety_identifier',
  'service_tier',
  'store',
  'stream',
  'temperature',
  'text',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'truncation',
  'user',
]);

export interface ResponsesRequestLog {
  body: Record<string, unknown>;
  status: number;
}

export async function handleResponses(
  req: IncomingMessage,
  res: ServerResponse,
  apiKey: string,
  log: ResponsesRequestLog[],
): Promise<void> {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const refuse = (status: number, message: string, param: string | null, code: string | null) =>
    send(status, { error: { message, type: 'invalid_request_error', param, code } });

  let text = '';
  for await (const chunk of req) text += chunk;
  let body: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    log.push({ body: {}, status: 400 });
    return refuse(400, 'We could not parse the JSON body of your request.', null, null);
  }
  const problem = checkRequest(req, body, apiKey);
  log.push({ body, status: problem?.status ?? 200 });
  if (problem) return refuse(problem.status, problem.message, problem.param ?? null, problem.code ?? null);

  const format = (body.text as { format?: { schema?: Record<string, unknown> } } | undefined)?.format;
  const input = inputText(body.input);
  const outputText = format?.schema ? JSON.stringify(fill(format.schema, valuesSeen(input))) : 'OK';
  send(200, {
    id: id('resp'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'completed',
    model: body.model,
    output: [
      { type: 'reasoning', id: id('rs'), summary: [] },
      {
        type: 'message',
        id: id('msg'),
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: outputText, annotations: [] }],
      },
    ],
    usage: {
      input_tokens: Math.ceil((input.length + String(body.instructions ?? '').length) / 4),
      output_tokens: Math.ceil(outputText.length / 4),
      total_tokens: 0,
    },
  });
}

interface Problem {
  status: number;
  message: string;
  param?: string;
  code?: string;
}

function checkRequest(
  req: IncomingMessage,
  body: Record<string, unknown>,
  apiKey: string,
): Problem | undefined {
  if (req.headers.authorization !== `Bearer ${apiKey}`)
    return { status: 401, message: 'Incorrect API key provided.', code: 'invalid_api_key' };
  if ('response_format' in body)
    return {
      status: 400,
      message:
        "Unsupported parameter: 'response_format'. In the Responses API, this parameter has moved to 'text.format'.",
      param: 'response_format',
      code: 'unsupported_parameter',
    };
  const unknown = Object.keys(body).find((k) => !KNOWN_PARAMS.has(k));
  if (unknown)
    return {
      status: 400,
      message: `Unknown parameter: '${unknown}'.`,
      param: unknown,
      code: 'unknown_parameter',
    };
  if (typeof body.model !== 'string' || !body.model)
    return {
      status: 400,
      message: "Missing required parameter: 'model'.",
      param: 'model',
      code: 'missing_required_parameter',
    };
  if (body.input === undefined && body.previous_response_id === undefined && body.prompt === undefined)
    return {
      status: 400,
      message: "Missing required parameter: 'input'.",
      param: 'input',
      code: 'missing_required_parameter',
    };
  if (body.max_output_tokens !== undefined && !(Number(body.max_output_tokens) >= 16))
    return {
      status: 400,
      message: "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16.",
      param: 'max_output_tokens',
      code: 'integer_below_min_value',
    };
  const format = (body.text as { format?: Record<string, unknown> } | undefined)?.format;
  if (format === undefined) return undefined;
  if (!['text', 'json_object', 'json_schema'].includes(String(format.type)))
    return {
      status: 400,
      message: "Invalid value for 'text.format.type'.",
      param: 'text.format.type',
      code: 'invalid_value',
    };
  if (format.type !== 'json_schema') return undefined;
  if (typeof format.name !== 'string')
    return {
      status: 400,
      message: "Missing required parameter: 'text.format.name'.",
      param: 'text.format.name',
      code: 'missing_required_parameter',
    };
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(format.name))
    return {
      status: 400,
      message: "Invalid 'text.format.name': string does not match pattern.",
      param: 'text.format.name',
      code: 'invalid_value',
    };
  if (typeof format.schema !== 'object' || format.schema === null)
    return {
      status: 400,
      message: "Missing required parameter: 'text.format.schema'.",
      param: 'text.format.schema',
      code: 'missing_required_parameter',
    };
  if (format.strict !== true) return undefined;
  const schema = format.schema as Record<string, unknown>;
  if (schema.type !== 'object')
    return strictProblem(
      format.name,
      [],
      'schema must be a JSON Schema of \'type: "object"\', got \'type: "' + String(schema.type) + '"\'.',
    );
  const why = strictViolation(schema, []);
  return why ? strictProblem(format.name, why.path, why.message) : undefined;
}

function strictProblem(name: string, path: string[], message: string): Problem {
  const context = `(${path.map((p) => `'${p}'`).join(', ')}${path.length === 1 ? ',' : ''})`;
  return {
    status: 400,
    message: `Invalid schema for response_format '${name}': In context=${context}, ${message}`,
    param: 'text.format.schema',
    code: 'invalid_json_schema',
  };
}

/** The first place a schema breaks the rules of strict mode: closed objects, every property required. */
function strictViolation(
  schema: Record<string, unknown>,
  path: string[],
): { path: string[]; message: string } | undefined {
  const properties = schema.properties;
  const isObject = schema.type === 'object' || (Array.isArray(schema.type) && schema.type.includes('object'));
  if (isObject && schema.additionalProperties !== false)
    return { path, message: "'additionalProperties' is required to be supplied and to be false." };
  if (typeof properties === 'object' && properties !== null) {
    if (schema.additionalProperties !== false)
      return { path, message: "'additionalProperties' is required to be supplied and to be false." };
    const required = Array.isArray(schema.required) ? schema.required : [];
    const missing = Object.keys(properties).find((k) => !required.includes(k));
    if (missing)
      return {
        path,
        message: `'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`,
      };
    for (const [key, sub] of Object.entries(properties as Record<string, unknown>)) {
      if (typeof sub !== 'object' || sub === null) continue;
      const found = strictViolation(sub as Record<string, unknown>, [...path, 'properties', key]);
      if (found) return found;
    }
  }
  if (typeof schema.items === 'object' && schema.items !== null)
    return strictViolation(schema.items as Record<string, unknown>, [...path, 'items']);
  if (Array.isArray(schema.anyOf))
    for (const [i, sub] of schema.anyOf.entries()) {
      const found = strictViolation(sub as Record<string, unknown>, [...path, 'anyOf', String(i)]);
      if (found) return found;
    }
  return undefined;
}

function inputText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  return input
    .map((item: { content?: unknown }) =>
      typeof item.content === 'string'
        ? item.content
        : Array.isArray(item.content)
          ? item.content.map((c: { text?: string }) => c.text ?? '').join('\n')
          : '',
    )
    .join('\n');
}

/** Every `key: value` of the JSON objects after "arguments:" and "result:" in the call's text, the latest winning. */
function valuesSeen(text: string): Map<string, unknown> {
  const seen = new Map<string, unknown>();
  const take = (json: string) => {
    try {
      const value = JSON.parse(json) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      for (const [k, v] of Object.entries(value)) if (v !== null && typeof v !== 'object') seen.set(k, v);
    } catch {
      // a result in plain words: nothing to copy
    }
  };
  for (const line of text.split('\n')) {
    const at = line.indexOf(' arguments: ');
    if (at < 0) continue;
    const rest = line.slice(at + ' arguments: '.length);
    // the arguments end where a " result: " splits the rest into two JSON values (or plain words)
    let split = rest.indexOf(' result: ');
    while (split >= 0) {
      const args = rest.slice(0, split);
      if (isJson(args)) {
        take(args);
        take(rest.slice(split + ' result: '.length));
        break;
      }
      split = rest.indexOf(' result: ', split + 1);
    }
  }
  return seen;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A value for `schema` from what was seen (by property name), else null where allowed, else empty. */
function fill(schema: Record<string, unknown>, seen: Map<string, unknown>, name?: string): unknown {
  const types = Array.isArray(schema.type)
    ? (schema.type as string[])
    : schema.type
      ? [String(schema.type)]
      : [];
  if (Array.isArray(schema.anyOf)) {
    const branches = schema.anyOf as Record<string, unknown>[];
    const real = branches.find((b) => b.type !== 'null');
    const nullable = branches.length > (real ? 1 : 0);
    if (!real || (nullable && real.type !== 'object' && !(name !== undefined && seen.has(name)))) return null;
    return fill(real, seen, name);
  }
  if (types.includes('object') && typeof schema.properties === 'object' && schema.properties !== null) {
    return Object.fromEntries(
      Object.entries(schema.properties as Record<string, Record<string, unknown>>).map(([key, sub]) => [
        key,
        fill(sub, seen, key),
      ]),
    );
  }
  const value = name === undefined ? undefined : seen.get(name);
  const allowed = (v: unknown) => !Array.isArray(schema.enum) || (schema.enum as unknown[]).includes(v);
  if (value !== undefined && allowed(value)) {
    if (typeof value === 'string' && types.includes('string')) return value;
    if (typeof value === 'number' && (types.includes('number') || types.includes('integer'))) return value;
    if (typeof value === 'boolean' && types.includes('boolean')) return value;
    if (types.includes('string')) return String(value);
  }
  if (types.includes('null')) return null;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (types.includes('string')) return '';
  if (types.includes('number') || types.includes('integer')) return 0;
  if (types.includes('boolean')) return false;
  if (types.includes('array')) return [];
  return null;
}
