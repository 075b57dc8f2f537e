import type { AgentConfig } from '../config/schema.js';
import type { CallControl, ToolDefinition } from './types.js';

/** Names the built-in tools take; MCP tools with the same name are prefixed. */
export const BUILTIN_TOOL_NAMES = ['end_call', 'transfer_call'] as const;

const reasonParameter = {
  type: 'object',
  properties: {
    reason: { type: 'string', description: 'A few words on why, for the call log.' },
  },
} as const;

export function builtinDefinitions(agent: AgentConfig): ToolDefinition[] {
  const tools: ToolDefinition[] = [];
  if (agent.tools.end_call) {
    tools.push({
      name: 'end_call',
      description:
        'Hang up the phone call. Use it only when the caller is done: say a short goodbye first; the line closes after your goodbye has been heard.',
      parameters: reasonParameter,
    });
  }
  if (agent.tools.transfer_call) {
    tools.push({
      name: 'transfer_call',
      description: `${agent.tools.transfer_call.description} Before using it, tell the caller in one short sentence that you are transferring them.`,
      parameters: reasonParameter,
    });
  }
  return tools;
}

/** Transfers a live call to a number (REST); undefined when only the action-URL route is available. */
export type RestTransfer = (callSid: string, to: string) => Promise<void>;

/** Runs a built-in tool; returns undefined when `name` is not a built-in of this agent. */
export function runBuiltin(
  name: string,
  args: { reason?: unknown },
  agent: AgentConfig,
  control: CallControl,
  restTransfer: RestTransfer | undefined,
): string | undefined {
  const reason = typeof args.reason === 'string' && args.reason ? args.reason : undefined;
  if (name === 'end_call' && agent.tools.end_call) {
    control.finishAfterSpeech({
      outcome: { kind: 'completed', reason: `the agent ended the call${reason ? ` (${reason})` : ''}` },
      farewell: 'Say a short, friendly goodbye to the caller now.',
    });
    return JSON.stringify({ ok: true, result: 'The call will end right after your goodbye.' });
  }
  const transfer = agent.tools.transfer_call;
  if (name === 'transfer_call' && transfer) {
    control.finishAfterSpeech({
      outcome: { kind: 'transfer', to: transfer.to, reason: `transfer${reason ? ` (${reason})` : ''}` },
      farewell: 'Tell the caller in one short sentence that you are transferring them to a colleague now.',
      before: restTransfer ? () => restTransfer(control.callSid, transfer.to) : undefined,
    });
    return JSON.stringify({
      ok: true,
      result: 'The caller is being transferred after your hand-off sentence.',
    });
  }
  return undefined;
}
