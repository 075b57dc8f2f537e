import type { ModelEngine } from '../../bridge/ports.js';
import type { EngineOptions } from '../engine-options.js';
import { connectRealtime } from './connection.js';
import { OpenAiModelSession } from './model-session.js';
import { buildSessionUpdate } from './session-config.js';

export interface OpenAiEngineOptions extends EngineOptions {
  /** Socket ping interval (default 5 s); one unanswered ping counts as a lost socket. */
  heartbeatMs?: number;
  /** Session age after which it is rolled over at a quiet moment, when `expires_at` is unknown (55 min). */
  rolloverAfterMs?: number;
  /** How long before the service's `expires_at` a session is rolled over (default 5 min). */
  rolloverLeadMs?: number;
}

/** The OpenAI Realtime engine: each call gets an {@link OpenAiModelSession} that can reconnect. */
export function openAiEngine(options: OpenAiEngineOptions): ModelEngine {
  const { agent } = options;
  return {
    open(callSid, call) {
      const instructions = call?.instructions ?? agent.instructions;
      // once OpenAI refuses the transcription settings, every session of this call goes without them
      let transcription = true;
      const withoutTranscription = () => {
        transcription = false;
        return buildSessionUpdate(agent, options.tools(), instructions, { transcription });
      };
      const connect = () =>
        connectRealtime({
          url: options.url,
          model: agent.model,
          apiKey: options.apiKey,
          logger: options.logger.child({ callSid }),
          // built when sent: after the tool servers were tried, with the list as it is then
          firstEvent: () => buildSessionUpdate(agent, options.tools(), instructions, { transcription }),
          ...(options.toolsReady ? { waitFor: options.toolsReady() } : {}),
          heartbeatMs: options.heartbeatMs,
        });
      return new OpenAiModelSession(connect(), {
        instructions,
        createResponse: agent.realtime.turn_detection.create_response,
        reconnect: connect,
        tools: options.tools,
        withoutTranscription,
        ...(options.onToolsChange ? { onToolsChange: options.onToolsChange } : {}),
        rolloverAfterMs: options.rolloverAfterMs,
        rolloverLeadMs: options.rolloverLeadMs,
        prefixPaddingMs:
          agent.realtime.turn_detection.type === 'server_vad'
            ? agent.realtime.turn_detection.prefix_padding_ms
            : undefined,
      });
    },
  };
}
