/**
 * What the GA Realtime service accepts, as far as the local stand-in checks it. Each rule mirrors a
 * rejection the real service makes (OpenAI's Realtime reference and observed errors; rules not
 * confirmed by a source are marked "unverified" where they are made).
 */

export const CLIENT_EVENT_TYPES = new Set([
  'session.update',
  'input_audio_buffer.append',
  'input_audio_buffer.commit',
  'input_audio_buffer.clear',
  'conversation.item.create',
  'conversation.item.truncate',
  'conversation.item.delete',
  'conversation.item.retrieve',
  'response.create',
  'response.cancel',
  'output_audio_buffer.clear',
]);

/** Beta-era session fields; GA answers `unknown_parameter`. */
export const BETA_SESSION_KEYS = new Set([
  'voice',
  'modalities',
  'input_audio_format',
  'output_audio_format',
  'turn_detection',
  'input_audio_transcription',
  'input_audio_noise_reduction',
  'temperature',
  'max_response_output_tokens',
]);

const SESSION_KEYS = new Set([
  'type',
  'model',
  'instructions',
  'output_modalities',
  'audio',
  'tools',
  'tool_choice',
  'max_output_tokens',
  'include',
  'prompt',
  'tracing',
  'truncation',
  // in RealtimeSessionCreateRequest (openai 6.49) for reasoning-capable models
  'parallel_tool_calls',
  'reasoning',
]);
/**
 * The service's transcription models (openai 7.60 `AudioTranscription.model`). The exact error code
 * the service answers for another value is unverified; it rejects the whole update either way.
 */
const TRANSCRIPTION_MODELS = new Set([
  'gpt-transcribe',
  'gpt-live-transcribe',
  'whisper-1',
  'gpt-4o-mini-transcribe',
  'gpt-4o-mini-transcribe-2025-12-15',
  'gpt-4o-transcribe',
  'gpt-4o-transcribe-diarize',
  'gpt-realtime-whisper',
]);
const TRANSCRIPTION_DELAYS = new Set(['minimal', 'low', 'medium', 'high', 'xhigh']);
const NOISE_REDUCTION = new Set(['near_field', 'far_field']);
const EAGERNESS = new Set(['low', 'medium', 'high', 'auto']);
const AUDIO_INPUT_KEYS = new Set(['format', 'noise_reduction', 'transcription', 'turn_detection']);
const AUDIO_OUTPUT_KEYS = new Set(['format', 'voice', 'speed']);
const SERVER_VAD_KEYS = new Set([
  'type',
  'threshold',
  'prefix_padding_ms',
  'silence_duration_ms',
  'create_response',
  'interrupt_response',
  'idle_timeout_ms',
]);
const SEMANTIC_VAD_KEYS = new Set(['type', 'eagerness', 'create_response', 'interrupt_response']);
const TOOL_KEYS = new Set(['type', 'name', 'description', 'parameters']);
// the service's own list, kept apart from src/config on purpose: the stand-in must not agree with a bug in ours
const VOICES = new Set([
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'sage',
  'shimmer',
  'verse',
  'marin',
  'cedar',
]);

export interface RuleViolation {
  code: string;
  message: string;
  param?: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

function unknownKeys(obj: Json, allowed: Set<string>, prefix: string): RuleViolation | undefined {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      return {
        code: 'unknown_parameter',
        message: `Unknown parameter: '${prefix}${key}'.`,
        param: `${prefix}${key}`,
      };
    }
  }
  return undefined;
}

function checkFormat(format: unknown, param: string): RuleViolation | undefined {
  if (!isObject(format)) return { code: 'invalid_type', message: `${param} must be an object`, param };
  if (format.type === 'audio/pcmu' || format.type === 'audio/pcma') return undefined;
  if (format.type === 'audio/pcm') {
    // live probe (MantaUI PR #1196, 2026-08): GA requires the rate, and only 24 kHz exists
    if (format.rate === undefined)
      return {
        code: 'missing_required_parameter',
        message: `Missing required parameter: '${param}.rate'.`,
        param: `${param}.rate`,
      };
    if (format.rate === 24000) return undefined;
  }
  return { code: 'invalid_value', message: `Invalid value for ${param}.type: ${String(format.type)}`, param };
}

function inRange(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && value >= min && value <= max;
}

function invalid(param: string, value: unknown): RuleViolation {
  return { code: 'invalid_value', message: `Invalid value for '${param}': ${JSON.stringify(value)}.`, param };
}

/** Transcription and noise reduction: values the service validates (codes unverified: invalid_value). */
function checkInputExtras(input: Json): RuleViolation | undefined {
  const t = input.transcription;
  if (isObject(t)) {
    if (t.model !== undefined && !TRANSCRIPTION_MODELS.has(String(t.model)))
      return invalid('session.audio.input.transcription.model', t.model);
    if (t.language !== undefined && !/^[a-z]{2}$/.test(String(t.language)))
      return invalid('session.audio.input.transcription.language', t.language);
    if (
      t.languages !== undefined &&
      (!Array.isArray(t.languages) || !t.languages.every((l) => /^[a-z]{2}$/.test(String(l))))
    )
      return invalid('session.audio.input.transcription.languages', t.languages);
    if (
      t.keywords !== undefined &&
      (!Array.isArray(t.keywords) || !t.keywords.every((k) => typeof k === 'string'))
    )
      return invalid('session.audio.input.transcription.keywords', t.keywords);
    if (t.delay !== undefined && !TRANSCRIPTION_DELAYS.has(String(t.delay)))
      return invalid('session.audio.input.transcription.delay', t.delay);
  }
  const nr = input.noise_reduction;
  if (nr !== undefined && nr !== null && (!isObject(nr) || !NOISE_REDUCTION.has(String(nr.type))))
    return invalid('session.audio.input.noise_reduction.type', isObject(nr) ? nr.type : nr);
  return undefined;
}

/** Validates a GA `session.update` payload. */
export function checkSessionUpdate(event: Json): RuleViolation | undefined {
  const session = event.session;
  if (!isObject(session))
    return { code: 'missing_required_parameter', message: "Missing 'session'.", param: 'session' };
  for (const key of Object.keys(session)) {
    if (BETA_SESSION_KEYS.has(key)) {
      return {
        code: 'unknown_parameter',
        message: `Unknown parameter: 'session.${key}'.`,
        param: `session.${key}`,
      };
    }
  }
  if (session.type !== 'realtime') {
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'session.type'.",
      param: 'session.type',
    };
  }
  const unknown = unknownKeys(session, SESSION_KEYS, 'session.');
  if (unknown) return unknown;
  if (session.audio !== undefined) {
    if (!isObject(session.audio)) return { code: 'invalid_type', message: 'session.audio must be an object' };
    const { input, output } = session.audio;
    for (const key of Object.keys(session.audio)) {
      if (key !== 'input' && key !== 'output') return unknownKeys({ [key]: 1 }, new Set(), 'session.audio.');
    }
    if (isObject(input)) {
      const bad =
        unknownKeys(input, AUDIO_INPUT_KEYS, 'session.audio.input.') ??
        (input.format === undefined ? undefined : checkFormat(input.format, 'session.audio.input.format')) ??
        checkInputExtras(input);
      if (bad) return bad;
      const td = input.turn_detection;
      if (isObject(td)) {
        const keys =
          td.type === 'server_vad'
            ? SERVER_VAD_KEYS
            : td.type === 'semantic_vad'
              ? SEMANTIC_VAD_KEYS
              : undefined;
        if (!keys) return { code: 'invalid_value', message: 'Invalid turn_detection.type' };
        const badTd = unknownKeys(td, keys, 'session.audio.input.turn_detection.');
        if (badTd) return badTd;
        if (td.eagerness !== undefined && !EAGERNESS.has(String(td.eagerness)))
          return invalid(`session.audio.input.turn_detection.eagerness`, td.eagerness);
        if (td.threshold !== undefined && !inRange(td.threshold, 0, 1))
          return invalid('session.audio.input.turn_detection.threshold', td.threshold);
        const idle = td.idle_timeout_ms;
        if (
          idle !== undefined &&
          idle !== null &&
          (typeof idle !== 'number' || idle < 5000 || idle > 30000)
        ) {
          return {
            code: 'decimal_below_min_value',
            message: 'idle_timeout_ms must be between 5000 and 30000',
          };
        }
      }
    }
    if (isObject(output)) {
      const bad =
        unknownKeys(output, AUDIO_OUTPUT_KEYS, 'session.audio.output.') ??
        (output.format === undefined ? undefined : checkFormat(output.format, 'session.audio.output.format'));
      if (bad) return bad;
      const customVoice = isObject(output.voice) && /^voice_/.test(String(output.voice.id));
      if (output.voice !== undefined && !customVoice && !VOICES.has(String(output.voice))) {
        return { code: 'invalid_value', message: `Invalid voice ${String(output.voice)}` };
      }
      if (output.speed !== undefined && !inRange(output.speed, 0.25, 1.5))
        return invalid('session.audio.output.speed', output.speed);
    }
  }
  return checkTools(session.tools) ?? checkResponseFields(session, 'session.');
}

/**
 * `session.tools`: function tools (`parameters` optional, as in the openai 7.60 types) and hosted
 * MCP servers (`{type: "mcp", server_label, server_url | connector_id}`, a GA session tool).
 */
function checkTools(tools: unknown): RuleViolation | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) return { code: 'invalid_type', message: 'session.tools must be an array' };
  for (const [i, tool] of tools.entries()) {
    if (isObject(tool) && tool.type === 'mcp') {
      if (typeof tool.server_label !== 'string' || !tool.server_label)
        return missing(`session.tools[${i}].server_label`);
      if (typeof tool.server_url !== 'string' && typeof tool.connector_id !== 'string')
        return missing(`session.tools[${i}].server_url`);
      continue;
    }
    if (!isObject(tool) || tool.type !== 'function')
      return { code: 'invalid_value', message: `session.tools[${i}].type` };
    const bad = unknownKeys(tool, TOOL_KEYS, `session.tools[${i}].`);
    if (bad) return bad;
    if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name)) {
      return {
        code: 'invalid_value',
        message: `Invalid 'session.tools[${i}].name': string does not match pattern`,
      };
    }
    const params = tool.parameters;
    if (params === undefined) continue;
    const badSchema =
      !isObject(params) ||
      params.type !== 'object' ||
      (params.properties !== undefined && !isObject(params.properties)) ||
      (params.required !== undefined &&
        (!Array.isArray(params.required) || params.required.some((r) => typeof r !== 'string')));
    if (badSchema) {
      return {
        code: 'invalid_function_parameters',
        message: `Invalid schema for function '${String(tool.name)}'`,
      };
    }
  }
  return undefined;
}

function missing(param: string): RuleViolation {
  return { code: 'missing_required_parameter', message: `Missing required parameter: '${param}'.`, param };
}

const TOOL_CHOICES = new Set(['auto', 'none', 'required']);

/**
 * Fields a session and a response share, with the values the service documents (openai 7.60
 * `realtime.d.ts`): max_output_tokens 1–4096 or "inf", one output modality, a tool choice that is a
 * mode or names a function or MCP server, metadata of string values.
 */
export function checkResponseFields(fields: Json, prefix: string): RuleViolation | undefined {
  const max = fields.max_output_tokens;
  if (max !== undefined && max !== 'inf' && !(Number.isInteger(max) && inRange(max, 1, 4096)))
    return {
      code: 'integer_above_max_value',
      message: `Invalid '${prefix}max_output_tokens': expected an integer between 1 and 4096, or "inf".`,
      param: `${prefix}max_output_tokens`,
    };
  const modalities = fields.output_modalities;
  if (
    modalities !== undefined &&
    (!Array.isArray(modalities) ||
      modalities.length !== 1 ||
      (modalities[0] !== 'audio' && modalities[0] !== 'text'))
  )
    return invalid(`${prefix}output_modalities`, modalities);
  const choice = fields.tool_choice;
  if (choice !== undefined) {
    const ok =
      (typeof choice === 'string' && TOOL_CHOICES.has(choice)) ||
      (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string') ||
      (isObject(choice) && choice.type === 'mcp' && typeof choice.server_label === 'string');
    if (!ok) return invalid(`${prefix}tool_choice`, choice);
  }
  const metadata = fields.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata)) return invalid(`${prefix}metadata`, metadata);
    for (const [key, value] of Object.entries(metadata))
      if (typeof value !== 'string' || value.length > 512 || key.length > 64)
        return invalid(`${prefix}metadata.${key}`, value);
  }
  return undefined;
}
