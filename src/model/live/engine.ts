import type { ModelEngine } from '../../bridge/ports.js';
import type { EngineOptions } from '../engine-options.js';
import { LiveModelSession } from './model-session.js';
import { buildSessionStart } from './session-start.js';

export type LiveEngineOptions = EngineOptions;

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
