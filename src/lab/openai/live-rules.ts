/**
 * What GPT-Live accepts, as far as the local stand-in checks it: the first message must be
 * `session.start`; the session object is strict (an unknown field rejects the start); the audio
 * format is one of the four WebSocket formats. Field lists follow `openai@7.57.0`
 * (`resources/live/live.d.ts`); the error codes and messages are plausible but unverified (no public
 * record of the service's exact wording was found), except `unknown_parameter`, which the SDK
 * documents.
 */

export const LIVE_CLIENT_EVENTS = new Set([
  'session.start',
  'session.update',
  'session.input_audio.append',
  'session.input_audio.mute',
  'session.input_audio.unmute',
  'session.output_audio.fixture.play',
  'session.instructions.append',
  'session.thinking.append',
  'session.commentary.append',
  'decision.create',
  'decision.item.create',
  'decision.item.delete',
  'response.item.create',
  'response.create',
  'session.close',
]);

export interface LiveProblem {
  code: string;
  message: string;
  param?: string;
}

const SESSION_KEYS = new Set([
  'model',
  'instructions',
  'audio',
  'delegation',
  'input',
  'store',
  'triggers',
  'client',
]);
const AUDIO_KEYS = new Set(['format', 'output']);
const RESPONSES_KEYS = new Set([
  'model',
  'instructions',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'reasoning',
  'text',
  'max_output_tokens',
  'service_tier',
]);
const FUNCTION_TOOL_KEYS = new Set(['type', 'name', 'description', 'parameters', 'strict']);

const unknown = (path: string, key: string): LiveProblem => ({
  code: 'unknown_parameter',
  message: `Unknown parameter: '${path}.${key}'.`,
  param: `${path}.${key}`,
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first problem of a `session.start`'s session object, or undefined when it would start. */
export function checkSessionStart(session: unknown): LiveProblem | undefined {
  if (!isObject(session))
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'session'.",
      param: 'session',
    };
  for (const key of Object.keys(session)) if (!SESSION_KEYS.has(key)) return unknown('session', key);
  if (typeof session.model !== 'string' || !session.model)
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'session.model'.",
      param: 'session.model',
    };
  if (
    session.instructions !== undefined &&
    session.instructions !== null &&
    typeof session.instructions !== 'string'
  )
    return {
      code: 'invalid_type',
      message: "Invalid type for 'session.instructions'.",
      param: 'session.instructions',
    };
  if (session.audio !== undefined) {
    if (!isObject(session.audio))
      return { code: 'invalid_type', message: "Invalid type for 'session.audio'." };
    for (const key of Object.keys(session.audio))
      if (!AUDIO_KEYS.has(key)) return unknown('session.audio', key);
    const format = session.audio.format;
    if (format !== undefined && !validFormat(format))
      return {
        code: 'invalid_value',
        message:
          "Invalid 'session.audio.format': expected audio/pcm at 16000 or 24000 Hz, or audio/pcmu or audio/pcma at 8000 Hz.",
        param: 'session.audio.format',
      };
    const output = session.audio.output;
    if (output !== undefined) {
      if (!isObject(output))
        return { code: 'invalid_type', message: "Invalid type for 'session.audio.output'." };
      for (const key of Object.keys(output)) if (key !== 'voice') return unknown('session.audio.output', key);
    }
  }
  const input = session.input;
  if (input !== undefined) {
    if (!Array.isArray(input) || input.length > 128)
      return {
        code: 'invalid_value',
        message: "Invalid 'session.input': at most 128 messages.",
        param: 'session.input',
      };
    for (const [i, item] of input.entries()) {
      const ok =
        isObject(item) &&
        ['developer', 'user', 'assistant'].includes(String(item.role)) &&
        Array.isArray(item.content) &&
        item.content.length === 1 &&
        isObject(item.content[0]) &&
        typeof item.content[0].text === 'string';
      if (!ok)
        return {
          code: 'invalid_value',
          message: `Invalid 'session.input[${i}]': a developer, user or assistant message with one text part.`,
          param: `session.input[${i}]`,
        };
    }
  }
  return checkDelegation(session.delegation);
}

function validFormat(format: unknown): boolean {
  if (!isObject(format)) return false;
  if (Object.keys(format).some((k) => k !== 'type' && k !== 'rate')) return false;
  if (format.type === 'audio/pcm')
    return format.rate === undefined || format.rate === 16000 || format.rate === 24000;
  // G.711 names its rate (openai 7.60 live.d.ts: AudioPCMU.rate and AudioPCMA.rate are required)
  if (format.type === 'audio/pcmu' || format.type === 'audio/pcma') return format.rate === 8000;
  return false;
}

function checkDelegation(delegation: unknown): LiveProblem | undefined {
  if (delegation === undefined || delegation === null) return undefined;
  if (!isObject(delegation))
    return { code: 'invalid_type', message: "Invalid type for 'session.delegation'." };
  const keys = Object.keys(delegation).filter((k) => k !== 'type' && k !== 'acknowledgement_delay_ms');
  if (delegation.type === 'client') return keys.length ? unknown('session.delegation', keys[0]!) : undefined;
  if (delegation.type === 'decisions') {
    const decisions = delegation.decisions;
    if (!isObject(decisions) || typeof decisions.model !== 'string' || !Array.isArray(decisions.questions))
      return {
        code: 'missing_required_parameter',
        message: "Missing required parameter: 'session.delegation.decisions' (model and questions).",
        param: 'session.delegation.decisions',
      };
    for (const key of keys) if (key !== 'decisions') return unknown('session.delegation', key);
    return undefined;
  }
  if (delegation.type !== 'responses')
    return {
      code: 'invalid_value',
      message: "Invalid 'session.delegation.type': expected client, responses or decisions.",
      param: 'session.delegation.type',
    };
  for (const key of keys) if (key !== 'responses') return unknown('session.delegation', key);
  const responses = delegation.responses;
  if (!isObject(responses) || typeof responses.model !== 'string')
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'session.delegation.responses.model'.",
      param: 'session.delegation.responses.model',
    };
  for (const key of Object.keys(responses))
    if (!RESPONSES_KEYS.has(key)) return unknown('session.delegation.responses', key);
  const tools = responses.tools ?? [];
  if (!Array.isArray(tools))
    return { code: 'invalid_type', message: "Invalid type for 'session.delegation.responses.tools'." };
  for (const [i, tool] of tools.entries()) {
    const path = `session.delegation.responses.tools[${i}]`;
    if (!isObject(tool)) return { code: 'invalid_type', message: `Invalid type for '${path}'.` };
    if (tool.type !== 'function') continue; // hosted tools: not checked here
    for (const key of Object.keys(tool)) if (!FUNCTION_TOOL_KEYS.has(key)) return unknown(path, key);
    if (typeof tool.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name))
      return { code: 'invalid_value', message: `Invalid '${path}.name'.`, param: `${path}.name` };
  }
  return undefined;
}

/** `session.instructions.append` and friends: a string, and `delegation_id` present (it may be null). */
export function checkAppend(event: Record<string, unknown>): LiveProblem | undefined {
  if (typeof event.content !== 'string' || !event.content)
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'content'.",
      param: 'content',
    };
  if (!('delegation_id' in event))
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'delegation_id'.",
      param: 'delegation_id',
    };
  return undefined;
}

/**
 * A `session.update`: only delegation settings (within the same mode) and triggers may change;
 * another mode is `immutable_field_update`, and the Responses settings are checked like at start.
 */
export function checkSessionUpdate(currentMode: string, update: unknown): LiveProblem | undefined {
  if (!isObject(update))
    return {
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'session'.",
      param: 'session',
    };
  for (const key of Object.keys(update))
    if (key !== 'delegation' && key !== 'triggers')
      return key in { model: 1, instructions: 1, audio: 1, input: 1, store: 1 }
        ? {
            code: 'immutable_field_update',
            message: `'session.${key}' cannot change after startup.`,
            param: `session.${key}`,
          }
        : unknown('session', key);
  const delegation = update.delegation;
  if (delegation === undefined) return undefined;
  if (!isObject(delegation) || delegation.type !== currentMode)
    return {
      code: 'immutable_field_update',
      message: 'The delegation mode cannot change after startup.',
      param: 'session.delegation.type',
    };
  if (currentMode !== 'responses' || delegation.responses === undefined) return undefined;
  // the same checks as at start, with the model optional
  const responses = delegation.responses;
  return checkDelegation({
    type: 'responses',
    responses: isObject(responses) ? { model: 'unchanged', ...responses } : responses,
  });
}
