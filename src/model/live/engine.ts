import type { ModelEngine } from '../../bridge/ports.js';
import type { ToolDefinition } from '../../bridge/tool-ports.js';
import type { AgentConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { LiveModelSession } from './model-session.js';
import { buildSessionStart } from './session-start.js';

export interface LiveEngineOptions {
  agent: AgentConfig;
  /** `wss://api.openai.com/v1/live/sessions`, or a local stand-in. */
  url: string;
  apiKey: string;
  logger: Logger;
  /** The tools offered, read when each session starts (a replacement session gets the current list). */
  tools(): readonly ToolDefinition[];
  /** Sessions start only after this resolves (every tool server tried once). */
  toolsReady?: () => Promise<void>;
  /** A running session gets the new list when it changes (a server came back mid-call). */
  onToolsChange?: (listener: () => void) => () => void;
}

/** The GPT-Live engine (`engine: live`): each call gets a {@link LiveModelSession}. */
export function liveEngine(options: LiveEngineOptions): ModelEngine {
  const { agent } = options;
  return {
    open(callSid, call) {
      return new LiveModelSession({
        url: options.url,
        apiKey: options.apiKey,
        logger: options.logger.child({ callSid }),
        start: () => buildSessionStart(agent, options.tools(), call?.instructions ?? agent.instructions),
        speech: {
          threshold: agent.live.barge_in.threshold,
          startMs: agent.live.barge_in.start_ms,
          stopMs: agent.live.barge_in.stop_ms,
        },
        interruptAfterMs: agent.live.barge_in.interrupt_after_ms,
        ...(options.toolsReady ? { waitFor: options.toolsReady() } : {}),
        ...(options.onToolsChange ? { onToolsChange: options.onToolsChange } : {}),
      });
    },
  };
}
