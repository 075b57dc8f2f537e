import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The price list behind every quote, in `rate-card.json` beside this file (edit it to change prices;
 * the server re-reads it at start). Quotes are computed, never invented: labour (movers × hours ×
 * hourly rate), truck, mileage beyond the included miles, packing, stairs, elevator, long carry, then
 * weekend and peak-season surcharges, with a minimum charge.
 */
export const HOME_SIZES = [
  'studio',
  '1_bedroom',
  '2_bedroom',
  '3_bedroom',
  '4_bedroom',
  '5_bedroom_or_more',
] as const;
export type HomeSize = (typeof HOME_SIZES)[number];

const money = z.number().nonnegative();
export const rateCardSchema = z.strictObject({
  currency: z.string().length(3),
  crews_per_slot: z.number().int().positive(),
  slots: z.strictObject({ morning: z.string(), afternoon: z.string() }),
  booking_window_days: z.number().int().positive(),
  home_sizes: z.strictObject(
    Object.fromEntries(
      HOME_SIZES.map((h) => [
        h,
        z.strictObject({ movers: z.number().int().positive(), hours: z.number().positive() }),
      ]),
    ) as Record<HomeSize, z.ZodObject<{ movers: z.ZodNumber; hours: z.ZodNumber }>>,
  ),
  hourly_rate_per_mover: money,
  truck_fee: money,
  included_miles: z.number().nonnegative(),
  per_mile_beyond_included: money,
  packing_fee_per_mover_hour: money,
  stairs_fee_per_flight: money,
  elevator_fee: money,
  long_carry_fee: money,
  weekend_surcharge_percent: z.number().min(0).max(100),
  peak_months: z.array(z.number().int().min(1).max(12)),
  peak_surcharge_percent: z.number().min(0).max(100),
  minimum_charge: money,
});
export type RateCard = z.infer<typeof rateCardSchema>;

/** Beside this file in the source tree; from dist/agents/moving-tools/, the source copy is read. */
export const DEFAULT_RATE_CARD_PATH = [
  new URL('./rate-card.json', import.meta.url),
  new URL('../../../agents/moving-tools/rate-card.json', import.meta.url),
].find((url) => existsSync(url))!;

export function loadRateCard(path: string | URL = DEFAULT_RATE_CARD_PATH): RateCard {
  const parsed = rateCardSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new Error(`rate card ${String(path)}: ${first.path.join('.')}: ${first.message}`);
  }
  return parsed.data;
}

export interface QuoteRequest {
  home_size: HomeSize;
  move_date: string;
  distance_miles?: number;
  packing: boolean;
  stairs_flights_origin: number;
  stairs_flights_destination: number;
  elevator_origin: boolean;
  elevator_destination: boolean;
  long_carry: boolean;
}

export interface Quote {
  total: number;
  currency: string;
  movers: number;
  estimated_hours: number;
  breakdown: { item: string; amount: number }[];
  notes: string[];
}

const round = (n: number) => Math.round(n * 100) / 100;

export function computeQuote(card: RateCard, req: QuoteRequest): Quote {
  const size = card.home_sizes[req.home_size];
  const lines: { item: string; amount: number }[] = [];
  const add = (item: string, amount: number) => {
    if (amount > 0) lines.push({ item, amount: round(amount) });
  };
  const moverHours = size.movers * size.hours;
  add(`labour: ${size.movers} movers for about ${size.hours} hours`, moverHours * card.hourly_rate_per_mover);
  add('truck', card.truck_fee);
  const extraMiles = Math.max(0, (req.distance_miles ?? 0) - card.included_miles);
  add(
    `mileage: ${extraMiles} miles beyond the ${card.included_miles} included`,
    extraMiles * card.per_mile_beyond_included,
  );
  if (req.packing) add('packing service', moverHours * card.packing_fee_per_mover_hour);
  const flights = req.stairs_flights_origin + req.stairs_flights_destination;
  add(`stairs: ${flights} flight${flights === 1 ? '' : 's'}`, flights * card.stairs_fee_per_flight);
  const elevators = Number(req.elevator_origin) + Number(req.elevator_destination);
  add(`elevator reservation at ${elevators} end${elevators === 1 ? '' : 's'}`, elevators * card.elevator_fee);
  if (req.long_carry) add('long carry from the truck to the door', card.long_carry_fee);
  const subtotal = lines.reduce((sum, l) => sum + l.amount, 0);
  const date = new Date(`${req.move_date}T12:00:00Z`);
  const day = date.getUTCDay();
  if (day === 0 || day === 6)
    add(
      `weekend surcharge ${card.weekend_surcharge_percent}%`,
      (subtotal * card.weekend_surcharge_percent) / 100,
    );
  if (card.peak_months.includes(date.getUTCMonth() + 1)) {
    add(
      `peak season surcharge ${card.peak_surcharge_percent}%`,
      (subtotal * card.peak_surcharge_percent) / 100,
    );
  }
  let total = round(lines.reduce((sum, l) => sum + l.amount, 0));
  const notes = ['This is an estimate; the final price depends on the actual time the move takes.'];
  if (req.distance_miles === undefined)
    notes.push(`Assumes a local move within ${card.included_miles} miles.`);
  if (total < card.minimum_charge) {
    lines.push({ item: 'minimum charge adjustment', amount: round(card.minimum_charge - total) });
    total = card.minimum_charge;
  }
  return {
    total,
    currency: card.currency,
    movers: size.movers,
    estimated_hours: size.hours,
    breakdown: lines,
    notes,
  };
}
