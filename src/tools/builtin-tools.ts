import { DTMF_DIGITS, dtmfTones } from '../audio/dtmf.js';
import type { CallOutcome } from '../bridge/call-outcome.js';
import {
  type CallControl,
  type ToolDefinition,
  type ToolResult,
  toolError,
  toolOk,
} from '../bridge/tool-ports.js';
import { describeHours, isOpen } from '../config/office-hours.js';
import type { AgentConfig } from '../config/schema.js';

/** Names the built-in tools take; MCP tools with the same name are prefixed. */
export const BUILTIN_TOOL_NAMES = ['end_call', 'transfer_call', 'take_message', 'send_dtmf'] as const;

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
  const transferTool = agent.tools.transfer_call;
  if (transferTool && (!transferTool.office_hours || isOpen(transferTool.office_hours))) {
    tools.push({
      name: 'transfer_call',
      description: `${transferTool.description} Before using it, tell the caller in one short sentence that you are transferring them.`,
      parameters: {
        type: 'object',
        properties: {
          ...reasonParameter.properties,
          summary: {
            type: 'string',
            description:
              'One sentence for the colleague who answers, said to them before the caller is connected: who is calling and what they need.',
          },
        },
      },
    });
  }
  if (agent.tools.take_message) {
    tools.push({
      name: 'take_message',
      description:
        "Take a message for the business when the caller wants to leave one (or nobody can help now). Collect the caller's name, the number to call back and the message, one at a time; read the number back before calling this.",
      parameters: {
        type: 'object',
        properties: {
          name: { type: 'string', description: "The caller's name." },
          phone: { type: 'string', description: 'The number to call back.' },
          message: { type: 'string', description: 'The message, in the caller’s words.' },
        },
        required: ['name', 'phone', 'message'],
      },
    });
  }
  if (agent.tools.send_dtmf) {
    tools.push({
      name: 'send_dtmf',
      description:
        'Press keypad keys on the line (0-9, *, #), e.g. to choose an option in a phone menu. Say nothing while they play.',
      parameters: {
        type: 'object',
        properties: { digits: { type: 'string', description: 'The keys to press, e.g. "1" or "2#".' } },
        required: ['digits'],
      },
    });
  }
  return tools;
}

/** Transfers a live call to a number (REST); undefined when only the action-URL route is available. */
export type RestTransfer = (
  callSid: string,
  transfer: Extract<CallOutcome, { kind: 'transfer' }>,
) => Promise<void>;

/** Runs a built-in tool; returns undefined when `name` is not a built-in of this agent. */
export function runBuiltin(
  name: string,
  args: { reason?: unknown },
  agent: AgentConfig,
  control: CallControl,
  restTransfer: RestTransfer | undefined,
): ToolResult | undefined {
  const reason = typeof args.reason === 'string' && args.reason ? args.reason : undefined;
  if (name === 'end_call' && agent.tools.end_call) {
    control.finishAfterSpeech({
      outcome: { kind: 'completed', reason: `the agent ended the call${reason ? ` (${reason})` : ''}` },
      farewell: 'Say a short, friendly goodbye to the caller now.',
    });
    return toolOk(JSON.stringify({ ok: true, result: 'The call will end right after your goodbye.' }));
  }
  const transfer = agent.tools.transfer_call;
  if (name === 'transfer_call' && transfer && transfer.office_hours && !isOpen(transfer.office_hours)) {
    return toolError(
      'refused',
      `The office is closed now (open ${describeHours(transfer.office_hours)}): nobody can take the call. Tell the caller, and offer to take a message instead.`,
    );
  }
  if (name === 'transfer_call' && transfer) {
    const summary =
      typeof (args as { summary?: unknown }).summary === 'string'
        ? String((args as { summary: string }).summary).trim()
        : '';
    const outcome = {
      kind: 'transfer' as const,
      to: transfer.to,
      reason: `transfer${reason ? ` (${reason})` : ''}`,
      ringTimeoutS: transfer.ring_timeout_s,
      ...(summary ? { whisper: summary } : {}),
    };
    control.finishAfterSpeech({
      outcome,
      farewell: 'Tell the caller in one short sentence that you are transferring them to a colleague now.',
      before: restTransfer ? () => restTransfer(control.callSid, outcome) : undefined,
    });
    return toolOk(
      JSON.stringify({ ok: true, result: 'The caller is being transferred after your hand-off sentence.' }),
    );
  }
  if (name === 'take_message' && agent.tools.take_message) {
    const field = (key: string) =>
      typeof args[key as keyof typeof args] === 'string' ? String(args[key as keyof typeof args]).trim() : '';
    const message = { name: field('name'), phone: field('phone'), message: field('message') };
    const missing = Object.entries(message)
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length)
      return toolError('invalid_arguments', `Ask the caller for their ${missing.join(' and ')} first.`);
    control.takeMessage(message);
    return toolOk(
      JSON.stringify({
        ok: true,
        result: 'The message is taken. Tell the caller someone will call them back.',
      }),
    );
  }
  if (name === 'send_dtmf' && agent.tools.send_dtmf) {
    const digits =
      typeof (args as { digits?: unknown }).digits === 'string'
        ? String((args as { digits: string }).digits).replace(/\s/g, '')
        : '';
    if (!DTMF_DIGITS.test(digits))
      return toolError('invalid_arguments', 'digits must be keypad keys: 0-9, *, #, A-D (at most 32).');
    control.playTones(dtmfTones(digits));
    return toolOk(JSON.stringify({ ok: true, result: `Pressed ${digits}.` }));
  }
  return undefined;
}
