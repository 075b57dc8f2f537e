import { describe, expect, it } from 'vitest';
import { computeQuote, loadRateCard } from '../../../agents/moving-tools/rate-card.js';

const card = loadRateCard();
const base = {
  home_size: '2_bedroom' as const,
  move_date: '2027-03-10', // a Wednesday in March: no surcharge
  packing: false,
  stairs_flights_origin: 0,
  stairs_flights_destination: 0,
  elevator_origin: false,
  elevator_destination: false,
  long_carry: false,
};

describe('moving quote from the rate card', () => {
  it('prices labour and truck for a local move, with a breakdown', () => {
    const q = computeQuote(card, base);
    expect(q.movers).toBe(3);
    expect(q.breakdown).toEqual([
      { item: 'labour: 3 movers for about 5 hours', amount: 3 * 5 * card.hourly_rate_per_mover },
      { item: 'truck', amount: card.truck_fee },
    ]);
    expect(q.total).toBe(3 * 5 * card.hourly_rate_per_mover + card.truck_fee);
    expect(q.notes.join(' ')).toContain('local move');
  });

  it('adds distance, packing, stairs, elevators, long carry, weekend and peak surcharges', () => {
    const q = computeQuote(card, {
      ...base,
      move_date: '2027-06-12', // a Saturday in June
      distance_miles: 50,
      packing: true,
      stairs_flights_origin: 2,
      elevator_destination: true,
      long_carry: true,
    });
    const items = q.breakdown.map((l) => l.item);
    expect(items).toEqual([
      'labour: 3 movers for about 5 hours',
      'truck',
      'mileage: 30 miles beyond the 20 included',
      'packing service',
      'stairs: 2 flights',
      'elevator reservation at 1 end',
      'long carry from the truck to the door',
      'weekend surcharge 15%',
      'peak season surcharge 10%',
    ]);
    const subtotal = q.breakdown.slice(0, 7).reduce((s, l) => s + l.amount, 0);
    expect(q.total).toBeCloseTo(subtotal * 1.25, 2);
  });

  it('applies the minimum charge', () => {
    const cheap = { ...card, hourly_rate_per_mover: 1, truck_fee: 0 };
    const q = computeQuote(cheap, { ...base, home_size: 'studio' });
    expect(q.total).toBe(card.minimum_charge);
    expect(q.breakdown.at(-1)?.item).toBe('minimum charge adjustment');
  });
});
