import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BookingRefused, BookingStore } from '../../../agents/moving-tools/store.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const request = (over: Partial<Parameters<BookingStore['book']>[0]> = {}) => ({
  customer_name: 'Ada Lovelace',
  phone: '+15551230000',
  from_address: '1 Main St, Springfield',
  to_address: '9 Elm St, Shelbyville',
  move_date: '2030-05-01',
  slot: 'morning' as const,
  idempotency_key: 'key-00000001',
  ...over,
});

describe('BookingStore', () => {
  it('books, finds, cancels, and frees the slot', () => {
    const store = new BookingStore(join(tmp(), 'b.sqlite'), 2);
    const { booking } = store.book(request());
    expect(booking.reference).toMatch(/^[A-Z0-9]{6}$/);
    expect(store.availability(['2030-05-01'])[0]!.slots).toEqual({ morning: 1, afternoon: 2 });
    expect(store.get(booking.reference.toLowerCase())?.status).toBe('booked');
    expect(store.cancel(booking.reference).status).toBe('cancelled');
    expect(() => store.cancel(booking.reference)).toThrow(BookingRefused);
    expect(store.availability(['2030-05-01'])[0]!.slots.morning).toBe(2);
    store.close();
  });

  it('a retried booking with the same idempotency key never double-books', () => {
    const store = new BookingStore(join(tmp(), 'b.sqlite'), 2);
    const first = store.book(request());
    const again = store.book(request());
    expect(again).toEqual({ booking: first.booking, replayed: true });
    expect(store.availability(['2030-05-01'])[0]!.slots.morning).toBe(1);
    expect(() => store.book(request({ slot: 'afternoon' }))).toThrow('idempotency key was already used');
    store.close();
  });

  it('refuses a full slot and a second booking for the same caller and date', () => {
    const store = new BookingStore(join(tmp(), 'b.sqlite'), 1);
    store.book(request());
    expect(() => store.book(request({ idempotency_key: 'key-00000002', phone: '+15559990000' }))).toThrow(
      'fully booked',
    );
    expect(() => store.book(request({ idempotency_key: 'key-00000003', slot: 'afternoon' }))).toThrow(
      'already has a move booked',
    );
    store.close();
  });

  it('bookings survive a restart', () => {
    const path = join(tmp(), 'b.sqlite');
    const store = new BookingStore(path, 2);
    const { booking } = store.book(request());
    store.close();
    const reopened = new BookingStore(path, 2);
    expect(reopened.get(booking.reference)).toEqual(booking);
    reopened.close();
  });
});
