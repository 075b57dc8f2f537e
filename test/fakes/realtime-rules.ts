/**
 * What the GA Realtime service accepts, as far as the fake checks it. Each rule mirrors a rejection
 * the real service makes (see ../shared/reference/openai-realtime.md §2–§6).
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
]);
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
// the service's own list, kept apart from src/config on purpose: the fake must not agree with a bug in ours
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
  if (format.type === 'audio/pcm' && (format.rate === undefined || format.rate === 24000)) return undefined;
  return { code: 'invalid_value', message: `Invalid value for ${param}.type: ${String(format.type)}`, param };
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
        (input.format === undefined ? undefined : checkFormat(input.format, 'session.audio.input.format'));
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
      if (output.voice !== undefined && !VOICES.has(String(output.voice))) {
        return { code: 'invalid_value', message: `Invalid voice ${String(output.voice)}` };
      }
    }
  }
  if (session.tools !== undefined) {
    if (!Array.isArray(session.tools))
      return { code: 'invalid_type', message: 'session.tools must be an array' };
    for (const [i, tool] of session.tools.entries()) {
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
      if (!isObject(params) || params.type !== 'object') {
        return {
          code: 'invalid_function_parameters',
          message: `Invalid schema for function '${String(tool.name)}'`,
        };
      }
    }
  }
  return undefined;
}
