import type {
  AudioTranscription,
  RealtimeFunctionTool,
  RealtimeSessionCreateRequest,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';
import type { ToolDefinition } from '../../bridge/tool-ports.js';
import type { AgentConfig } from '../../config/schema.js';

/**
 * The `event_id` of the configuring `session.update`: an `error` naming it means the service
 * rejected the whole configuration, and the call must not run on the service's defaults.
 */
export const SESSION_CONFIG_EVENT_ID = 'va_session_config';

/**
 * The GA `session.update` for a Twilio call: μ-law both ways (`audio/pcmu`), voice under
 * `audio.output`, VAD under `audio.input`. No beta-era field ever appears here; the conformance test
 * checks every event we send against OpenAI's published schema plus a beta deny-list.
 */
export function buildSessionUpdate(
  agent: AgentConfig,
  tools: readonly ToolDefinition[],
  instructions = agent.instructions,
  options: { transcription?: boolean } = {},
): SessionUpdateEvent {
  const { realtime } = agent;
  const transcribe = realtime.transcription.enabled && options.transcription !== false;
  const td = realtime.turn_detection;
  const turnDetection: NonNullable<
    NonNullable<RealtimeSessionCreateRequest['audio']>['input']
  >['turn_detection'] =
    td.type === 'server_vad'
      ? {
          type: 'server_vad',
          threshold: td.threshold,
          prefix_padding_ms: td.prefix_padding_ms,
          silence_duration_ms: td.silence_duration_ms,
          create_response: td.create_response,
          interrupt_response: td.interrupt_response,
          ...(td.idle_timeout_ms === undefined ? {} : { idle_timeout_ms: td.idle_timeout_ms }),
        }
      : {
          type: 'semantic_vad',
          eagerness: td.eagerness,
          create_response: td.create_response,
          interrupt_response: td.interrupt_response,
        };
  const session: RealtimeSessionCreateRequest = {
    type: 'realtime',
    instructions,
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcmu' },
        // a new session has no noise reduction: "off" is simply leaving it out
        ...(realtime.noise_reduction === 'off'
          ? {}
          : { noise_reduction: { type: realtime.noise_reduction } }),
        ...(transcribe ? { transcription: transcriptionOf(realtime.transcription) } : {}),
        turn_detection: turnDetection,
      },
      output: { format: { type: 'audio/pcmu' }, voice: agent.voice, speed: realtime.speed },
    },
    tools: functionTools(tools),
    tool_choice: 'auto',
  };
  return { type: 'session.update', event_id: SESSION_CONFIG_EVENT_ID, session };
}

/** Only what the model is told: a definition's own flags (destructive) stay here. */
export function functionTools(tools: readonly ToolDefinition[]): RealtimeFunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  }));
}

/** A partial `session.update` that replaces the tool list only (a server came back mid-call). */
export function buildToolsUpdate(tools: readonly ToolDefinition[]): SessionUpdateEvent {
  return { type: 'session.update', session: { type: 'realtime', tools: functionTools(tools) } };
}

type Transcription = AgentConfig['realtime']['transcription'];

/** The agent file's transcription section, as the service takes it: only the fields set. */
function transcriptionOf(t: Transcription): AudioTranscription {
  return {
    model: t.model,
    ...(t.language ? { language: t.language } : {}),
    ...(t.languages ? { languages: t.languages } : {}),
    ...(t.keywords ? { keywords: t.keywords } : {}),
    ...(t.prompt ? { prompt: t.prompt } : {}),
    ...(t.delay ? { delay: t.delay } : {}),
  };
}
