import type { FunctionTool, SessionStartEvent } from 'openai/resources/live/live';
import type { ToolDefinition } from '../../bridge/tool-ports.js';
import type { AgentConfig } from '../../config/schema.js';

/**
 * The first message of a GPT-Live session (it must be first; the session object is strict:
 * an unknown field rejects the whole start). μ-law at 8 kHz both ways, so Twilio's audio goes in
 * and out untouched. There is no turn detection to configure: Live decides itself when to speak.
 * Tools reach the model through Responses delegation: a backend model chooses the function calls,
 * voice-agent runs them. Field names checked against `openai@7.57.0` (`resources/live/live.d.ts`).
 */
export function buildSessionStart(
  agent: AgentConfig,
  tools: readonly ToolDefinition[],
  instructions = agent.instructions,
): SessionStartEvent {
  const { live } = agent;
  return {
    type: 'session.start',
    session: {
      model: live.model,
      instructions: `${instructions}\n\n${PHONE_POLICY}`,
      audio: { format: { type: 'audio/pcmu', rate: 8000 }, output: { voice: agent.voice } },
      delegation:
        live.delegation === 'responses'
          ? {
              type: 'responses',
              responses: {
                model: live.responses.model,
                instructions: live.responses.instructions ?? instructions,
                tools: tools.map(
                  (tool): FunctionTool => ({
                    type: 'function',
                    name: tool.name,
                    description: tool.description,
                    parameters: tool.parameters,
                  }),
                ),
                // one call at a time, as OpenAI's migration guide advises for a start
                parallel_tool_calls: false,
              },
            }
          : { type: 'client' },
    },
  };
}

/** Live is steered by its prompt alone (no turn-detection settings): how to behave on a phone line. */
const PHONE_POLICY =
  'You are on a phone line. Interruption policy: when the caller starts talking while you speak, stop and listen. ' +
  'Delegation policy: when a task needs a tool, delegate it, tell the caller briefly that you are checking, and share the result when it comes.';
