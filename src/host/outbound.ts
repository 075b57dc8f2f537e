import { type AgentConfig, E164_PATTERN as E164 } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { placeTwilioCall } from '../telephony/twilio/outbound-call.js';
import type { TwilioClient } from '../telephony/twilio/rest.js';
import type { CallBrief } from './calls/call-brief.js';
import { OutboundGuard } from './outbound-guard.js';

/** Values an outbound call carries for its `{{name}}` placeholders. */
export type CallContext = Record<string, string>;

/**
 * The context travels inside the webhook URL Twilio requests (and signs), so any server that takes
 * the call can read it; this bounds that URL.
 */
export const MAX_CONTEXT_BYTES = 1_500;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** `{{name}}` → its value; a name the context lacks becomes empty (placement checks first). */
export function render(template: string, context: CallContext): string {
  return template.replace(PLACEHOLDER, (_, name: string) => context[name] ?? '');
}

/** The placeholders the agent's outbound texts use, by where they are. */
export function placeholders(agent: AgentConfig): { field: string; name: string }[] {
  const { outbound } = agent;
  const found: { field: string; name: string }[] = [];
  for (const [field, text] of [
    ['outbound.greeting', outbound.greeting],
    ['outbound.instructions', outbound.instructions],
    ['outbound.voicemail', outbound.voicemail],
  ] as const) {
    for (const m of (text ?? '').matchAll(PLACEHOLDER)) found.push({ field, name: m[1]! });
  }
  return found;
}

/**
 * Checks a call's context (`--context`, or the JSON of POST /calls/outbound): a flat object of
 * strings, numbers or booleans, small enough for a URL, with every placeholder the agent uses.
 */
export function checkContext(agent: AgentConfig, value: unknown): CallContext {
  if (value === undefined) value = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError('the call context must be a JSON object, e.g. {"booking":"SM-4821"}', 'bad_context');
  const context: CallContext = {};
  for (const [key, v] of Object.entries(value)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new UsageError(
        `context key "${key}": use letters, digits and _ (as in {{${key}}})`,
        'bad_context',
      );
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new UsageError(`context value "${key}" must be a string, number or boolean`, 'bad_context');
    context[key] = String(v);
  }
  const missing = placeholders(agent).filter((p) => !(p.name in context));
  if (missing.length)
    throw new UsageError(
      `${missing[0]!.field} uses {{${missing[0]!.name}}}: pass it in the context, e.g. --context '{"${missing[0]!.name}":"…"}'`,
      'bad_context',
    );
  if (Buffer.byteLength(encodeContext(context)) > MAX_CONTEXT_BYTES)
    throw new UsageError(
      `the call context is too large (at most ${MAX_CONTEXT_BYTES} bytes encoded)`,
      'bad_context',
    );
  return context;
}

export function encodeContext(context: CallContext): string {
  return Buffer.from(JSON.stringify(context)).toString('base64url');
}

/** The context from a webhook URL; anything malformed is an empty context (the URL was signed). */
export function decodeContext(encoded: string | undefined): CallContext {
  if (!encoded) return {};
  try {
    const value = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string')) as CallContext;
  } catch {
    return {};
  }
}

/** An outbound call's brief: the agent's outbound greeting, instructions and voicemail, rendered. */
export function outboundBrief(agent: AgentConfig, context: CallContext): CallBrief {
  const { outbound } = agent;
  const greeting = outbound.greeting ?? agent.greeting;
  const facts = Object.entries(context)
    .map(([k, v]) => `- ${k}: ${v}`)
    .join('\n');
  return {
    direction: 'outbound',
    ...(greeting ? { greeting: render(greeting, context) } : {}),
    instructions: [
      agent.instructions,
      'This is an outbound call: you called them. Say who you are and why you are calling before anything else.',
      ...(outbound.instructions ? [render(outbound.instructions, context)] : []),
      ...(facts ? [`What this call is about:\n${facts}`] : []),
    ].join('\n\n'),
    ...(outbound.voicemail ? { voicemail: render(outbound.voicemail, context) } : {}),
  };
}

export interface OutboundRequest {
  to: string;
  /** Default: the agent's outbound.from, else twilio.phone_number. */
  from?: string;
  /** Values for the agent's {{placeholders}} (a JSON object). */
  context?: unknown;
}

/**
 * Places an outbound call for `agent` through Twilio, answered by the server at `publicUrl` (the
 * one running `serve`). Shared by `voice-agent call` and `POST /calls/outbound`; every problem
 * with the request is a {@link UsageError} that says what to fix, before Twilio is asked.
 */
export async function placeOutboundCall(o: {
  client: TwilioClient;
  agent: AgentConfig;
  publicUrl: string;
  request: OutboundRequest;
  /** Who may be called, from which number, how often: the serving process's guard (one per process). */
  guard?: OutboundGuard;
}): Promise<{ callSid: string; to: string; from: string }> {
  const { agent, request } = o;
  if (typeof request.to !== 'string' || !E164.test(request.to))
    throw new UsageError('to: expected an E.164 phone number such as +15551234567', 'bad_number');
  const from = request.from ?? agent.outbound.from ?? agent.twilio.phone_number;
  if (!from)
    throw new UsageError(
      'no number to call from: pass --from, or set outbound.from or twilio.phone_number in the agent file',
      'missing_from',
    );
  if (!E164.test(from))
    throw new UsageError('from: expected an E.164 phone number such as +15551234567', 'bad_number');
  const context = checkContext(agent, request.context);
  (o.guard ?? new OutboundGuard(agent)).admit(request.to, from);
  const { callSid } = await placeTwilioCall(o.client, {
    to: request.to,
    from,
    publicUrl: o.publicUrl,
    context: encodeContext(context),
    machineDetection: agent.outbound.machine_detection,
  });
  return { callSid, to: request.to, from };
}
