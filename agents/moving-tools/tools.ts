import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { computeQuote, HOME_SIZES, type RateCard } from './rate-card.js';
import { BookingRefused, type BookingStore, SLOTS } from './store.js';

/**
 * The tools a voice model uses to quote, check and book moves. Descriptions tell the model when to
 * use each tool and what to collect first; failures come back as `isError` results with a sentence
 * the model can repeat to the caller.
 */

const date = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'use YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a real date');

const MAX_RANGE_DAYS = 14;

export interface ToolDeps {
  store: BookingStore;
  rateCard: RateCard;
  /** Today's date as YYYY-MM-DD (injectable for tests). */
  today(): string;
}

const ok = (text: string, structured: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent: structured,
});
const refused = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

function dateProblem(deps: ToolDeps, day: string): string | undefined {
  const today = deps.today();
  if (day < today) return `${day} is in the past (today is ${today}). Ask the caller for a future date.`;
  if (daysBetween(today, day) > deps.rateCard.booking_window_days) {
    return `We only book up to ${deps.rateCard.booking_window_days} days ahead; ${day} is too far out.`;
  }
  return undefined;
}

export function registerMovingTools(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'get_quote',
    {
      title: 'Estimate the price of a move',
      description:
        'Price estimate for a move, with its breakdown. Collect first, one question at a time: home size, moving date, ' +
        'whether they want packing help, stairs (flights) and elevators at each end, whether the truck can park close to the door, ' +
        'and roughly how many miles apart the two addresses are (leave distance out for a local move). Never state a price without this tool.',
      inputSchema: {
        from_address: z.string().min(2).describe('Where they move from (street or neighbourhood, city).'),
        to_address: z.string().min(2).describe('Where they move to.'),
        home_size: z.enum(HOME_SIZES).describe('Size of the home being moved.'),
        move_date: date.describe('Moving date, YYYY-MM-DD.'),
        distance_miles: z
          .number()
          .min(0)
          .max(3000)
          .optional()
          .describe('Approximate driving distance; omit for a local move.'),
        packing: z.boolean().default(false).describe('They want our crew to pack.'),
        stairs_flights_origin: z.number().int().min(0).max(20).default(0),
        stairs_flights_destination: z.number().int().min(0).max(20).default(0),
        elevator_origin: z.boolean().default(false),
        elevator_destination: z.boolean().default(false),
        long_carry: z
          .boolean()
          .default(false)
          .describe('The truck must park more than about 75 feet from the door.'),
      },
      annotations: { readOnlyHint: true },
    },
    async (args) => {
      const problem = dateProblem(deps, args.move_date);
      if (problem) return refused(problem);
      const quote = computeQuote(deps.rateCard, args);
      const quote_id = deps.store.saveQuote(quote.total, quote.currency, { ...args, quote });
      return ok(
        `Estimate ${quote.total} ${quote.currency} for ${quote.movers} movers, about ${quote.estimated_hours} hours (quote ${quote_id}).`,
        { quote_id, ...quote },
      );
    },
  );

  server.registerTool(
    'check_availability',
    {
      title: 'Check free moving slots',
      description:
        `Free crews for each date: a morning slot (${deps.rateCard.slots.morning}) and an afternoon slot (${deps.rateCard.slots.afternoon}). ` +
        `Give one date, or a range of up to ${MAX_RANGE_DAYS} days. Tell the caller the free options briefly.`,
      inputSchema: {
        date_from: date.describe('First date, YYYY-MM-DD.'),
        date_to: date.optional().describe('Last date (inclusive), YYYY-MM-DD; omit for a single day.'),
      },
      annotations: { readOnlyHint: true },
    },
    async ({ date_from, date_to }) => {
      const last = date_to ?? date_from;
      if (last < date_from) return refused('date_to is before date_from.');
      if (daysBetween(date_from, last) >= MAX_RANGE_DAYS)
        return refused(`Ask for at most ${MAX_RANGE_DAYS} days at a time.`);
      const today = deps.today();
      const dates: string[] = [];
      for (let d = date_from; d <= last; d = addDays(d, 1)) if (d >= today) dates.push(d);
      if (dates.length === 0) return refused(`Those dates are in the past (today is ${today}).`);
      const days = deps.store.availability(dates).map((d) => ({
        date: d.date,
        free: SLOTS.filter((s) => d.slots[s] > 0),
        crews_free: d.slots,
      }));
      const summary = days
        .map((d) => `${d.date}: ${d.free.length ? d.free.join(' and ') : 'fully booked'}`)
        .join('; ');
      return ok(summary, { days });
    },
  );

  server.registerTool(
    'book_move',
    {
      title: 'Book a move',
      description:
        'Books a crew for a date and slot. Before calling, read back the name, phone number, date, slot and both addresses, and get a clear yes. ' +
        'Pass a new idempotency_key for each booking you make; if you retry the same booking, reuse the same key so it is never booked twice. ' +
        'Returns a booking reference to spell out to the caller.',
      inputSchema: {
        customer_name: z.string().min(2),
        phone: z.string().regex(/^\+?[0-9 ()-]{7,20}$/, 'a phone number with digits'),
        from_address: z.string().min(2),
        to_address: z.string().min(2),
        move_date: date,
        slot: z.enum(SLOTS),
        quote_id: z.string().optional().describe('The quote_id from get_quote, if the caller got a quote.'),
        idempotency_key: z
          .string()
          .min(8)
          .max(100)
          .describe('A unique key for this booking attempt, e.g. a random string.'),
      },
      annotations: { destructiveHint: false, idempotentHint: true },
    },
    async (args) => {
      const problem = dateProblem(deps, args.move_date);
      if (problem) return refused(problem);
      try {
        const { booking, replayed } = deps.store.book(args);
        const spelled = booking.reference.split('').join(' ');
        return ok(
          `${replayed ? 'Already booked' : 'Booked'}: ${booking.move_date} ${booking.slot}, reference ${spelled}.`,
          { ...booking, replayed },
        );
      } catch (error) {
        if (error instanceof BookingRefused) return refused(error.message);
        throw error;
      }
    },
  );

  server.registerTool(
    'get_booking',
    {
      title: 'Look up a booking',
      description: 'Finds a booking by its reference (the letters and digits the caller was given).',
      inputSchema: { reference: z.string().min(4) },
      annotations: { readOnlyHint: true },
    },
    async ({ reference }) => {
      const booking = deps.store.get(reference);
      if (!booking)
        return refused(`There is no booking with reference ${reference}. Ask the caller to spell it again.`);
      return ok(`Booking ${booking.reference}: ${booking.status}, ${booking.move_date} ${booking.slot}.`, {
        ...booking,
      });
    },
  );

  server.registerTool(
    'cancel_booking',
    {
      title: 'Cancel a booking',
      description: 'Cancels a booking by reference. Only after the caller has confirmed they want to cancel.',
      inputSchema: { reference: z.string().min(4) },
      annotations: { destructiveHint: true },
    },
    async ({ reference }) => {
      try {
        const booking = deps.store.cancel(reference);
        return ok(`Booking ${booking.reference} on ${booking.move_date} is cancelled.`, { ...booking });
      } catch (error) {
        if (error instanceof BookingRefused) return refused(error.message);
        throw error;
      }
    },
  );
  server.registerTool(
    'save_call_report',
    {
      title: 'Keep a call report',
      description:
        "Keeps what voice-agent reports after a call (its webhooks: the call's summary and outcome, messages, voicemails) for the office's follow-ups. Not for the phone agent.",
      inputSchema: {
        event: z.enum(['call.ended', 'message.taken', 'voicemail.left']),
        data: z.looseObject({ callSid: z.string().min(1) }),
      },
    },
    async ({ event, data }) => {
      deps.store.saveCallReport(data.callSid, event, data);
      return ok(`Kept the ${event} report of ${data.callSid}.`, { kept: true });
    },
  );
}
