import type { AgentConfig } from '../../config/schema.js';

/**
 * What a call is for: inbound calls follow the agent file; an outbound call has its own greeting,
 * instructions (with its context) and a message for an answering machine.
 */
export interface CallBrief {
  direction: 'inbound' | 'outbound';
  /** Replaces the agent's greeting (outbound.greeting, rendered). */
  greeting?: string;
  /** Replaces the agent's instructions (theirs plus outbound.instructions, rendered). */
  instructions?: string;
  /** Left on an answering machine (outbound.voicemail, rendered); none: hang up on machines. */
  voicemail?: string;
}

/** An incoming call: the agent file as it is. */
export function inboundBrief(agent: AgentConfig): CallBrief {
  return { direction: 'inbound', ...(agent.greeting ? { greeting: agent.greeting } : {}) };
}

/**
 * The caller is back with the agent after a transfer nobody answered: the agent says so first, and
 * knows not to try the same transfer again at once.
 */
export function resumedBrief(agent: AgentConfig, earlier: CallBrief): CallBrief {
  const message = agent.tools.take_message;
  return {
    ...earlier,
    greeting: `I'm sorry, nobody could come to the phone just now. ${message ? 'I can take a message for them, or help you with something else.' : 'Is there anything else I can help you with?'}`,
    instructions: `${earlier.instructions ?? agent.instructions}\n\nThe caller asked for a person and was transferred, but nobody answered, so they are back with you. Do not transfer them again unless they insist.${message ? ' Offer to take a message with take_message.' : ''}`,
  };
}
