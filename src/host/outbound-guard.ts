import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { AgentConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';

/**
 * Country calling codes of international networks, satellite phones and international premium or
 * shared-cost services: never a destination, whatever the allow-list says (toll fraud dials them).
 */
const NEVER_CALLING_CODES = new Set([
  '870',
  '871',
  '872',
  '873',
  '874',
  '878',
  '881',
  '882',
  '883',
  '888',
  '979',
  '991',
]);
/** Number types (libphonenumber's) that bill the caller per minute: never a destination. */
const NEVER_TYPES = new Set(['PREMIUM_RATE', 'SHARED_COST']);

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** Why an outbound call was refused (the error's code, a metric label). */
export type OutboundRefusal = 'destination_not_allowed' | 'caller_id_not_allowed' | 'rate_limited';

export class OutboundRefused extends UsageError {
  constructor(
    readonly reason: OutboundRefusal,
    message: string,
  ) {
    super(message, reason);
  }
}

/**
 * What an admin token may dial (reliability test 13: it placed 200 calls in 0.67 s to +1900, +882 and
 * +53 numbers with a caller ID of its choosing). Destinations only in the agent's allowed prefixes
 * (default: the calling code of the agent's own number), never premium-rate, shared-cost or satellite
 * numbers; caller IDs only the agent's own numbers; at most `max_per_minute` and `max_per_day` calls.
 * One guard per serving process; the counts are this process's.
 */
export class OutboundGuard {
  readonly #agent: AgentConfig;
  readonly #now: () => number;
  /** When each call of the last day was placed (ms), oldest first. */
  readonly #placed: number[] = [];

  constructor(agent: AgentConfig, now: () => number = Date.now) {
    this.#agent = agent;
    this.#now = now;
  }

  /** The numbers this agent may show as its caller ID. */
  callerIds(): string[] {
    const { outbound, twilio } = this.#agent;
    return [outbound.from, twilio.phone_number, ...outbound.caller_ids].filter((n): n is string => !!n);
  }

  /** E.164 prefixes calls may go to: the agent file's, else the calling code of its own number. */
  allowedPrefixes(from: string): string[] {
    const own = this.#agent.outbound.allowed_destinations;
    if (own) return own;
    const code = parsePhoneNumberFromString(from)?.countryCallingCode;
    return code ? [`+${code}`] : [];
  }

  /** Throws {@link OutboundRefused} saying why; else counts the call as placed. */
  admit(to: string, from: string): void {
    const ids = this.callerIds();
    if (!ids.includes(from))
      throw new OutboundRefused(
        'caller_id_not_allowed',
        `from: ${from} is not one of this agent's numbers (${ids.join(', ') || 'none set'}); add it to outbound.caller_ids`,
      );
    const parsed = parsePhoneNumberFromString(to);
    const code = parsed?.countryCallingCode ?? '';
    if (NEVER_CALLING_CODES.has(code))
      throw new OutboundRefused(
        'destination_not_allowed',
        `to: +${code} numbers (satellite and international networks) are never called`,
      );
    const type = parsed?.getType();
    if (type && NEVER_TYPES.has(type))
      throw new OutboundRefused(
        'destination_not_allowed',
        `to: ${to} is a ${type.toLowerCase().replace('_', '-')} number; those are never called`,
      );
    const prefixes = this.allowedPrefixes(from);
    if (!prefixes.some((prefix) => to.startsWith(prefix)))
      throw new OutboundRefused(
        'destination_not_allowed',
        `to: ${to} is outside outbound.allowed_destinations (${prefixes.join(', ') || 'none'})`,
      );
    this.#countCall();
  }

  #countCall(): void {
    const now = this.#now();
    while (this.#placed.length > 0 && this.#placed[0]! <= now - DAY_MS) this.#placed.shift();
    const { max_per_minute: perMinute, max_per_day: perDay } = this.#agent.outbound;
    const lastMinute = this.#placed.filter((at) => at > now - MINUTE_MS).length;
    if (lastMinute >= perMinute)
      throw new OutboundRefused(
        'rate_limited',
        `more than ${perMinute} calls a minute (outbound.max_per_minute): try again shortly`,
      );
    if (this.#placed.length >= perDay)
      throw new OutboundRefused('rate_limited', `more than ${perDay} calls a day (outbound.max_per_day)`);
    this.#placed.push(now);
  }
}
