import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

/**
 * Quotes and bookings in one SQLite file. Bookings survive restarts; several server processes may
 * share the file: a booking runs in an IMMEDIATE transaction, so two bookings of the last crew of a
 * slot can never both succeed.
 */

export type Slot = 'morning' | 'afternoon';
export const SLOTS: readonly Slot[] = ['morning', 'afternoon'];

export interface Booking {
  reference: string;
  status: 'booked' | 'cancelled';
  customer_name: string;
  phone: string;
  from_address: string;
  to_address: string;
  move_date: string;
  slot: Slot;
  quote_id: string | null;
  quoted_total: number | null;
  created_at: string;
}

/** What the caller gives for a booking, plus the key that makes retries idempotent. */
export type NewBooking = Pick<
  Booking,
  'customer_name' | 'phone' | 'from_address' | 'to_address' | 'move_date' | 'slot'
> & {
  quote_id?: string;
  idempotency_key: string;
};

/** A business rule refused the request; the message is meant to be read to the model. */
export class BookingRefused extends Error {}

const REFERENCE_ALPHABET = 'ACDEFHJKMNPRTUVWXY34679'; // no look-alikes: easy to spell on the phone

function newReference(): string {
  const bytes = randomBytes(6);
  return Array.from(bytes, (b) => REFERENCE_ALPHABET[b % REFERENCE_ALPHABET.length]).join('');
}

export class BookingStore {
  readonly #db: Database.Database;
  readonly #capacity: number;

  constructor(path: string, crewsPerSlot: number) {
    this.#db = new Database(path);
    this.#capacity = crewsPerSlot;
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS quotes (
        id TEXT PRIMARY KEY, total REAL NOT NULL, currency TEXT NOT NULL, details TEXT NOT NULL, created_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS bookings (
        reference TEXT PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
        customer_name TEXT NOT NULL, phone TEXT NOT NULL,
        from_address TEXT NOT NULL, to_address TEXT NOT NULL,
        move_date TEXT NOT NULL, slot TEXT NOT NULL CHECK (slot IN ('morning', 'afternoon')),
        quote_id TEXT REFERENCES quotes(id), quoted_total REAL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS bookings_by_slot ON bookings (move_date, slot, status);
      CREATE TABLE IF NOT EXISTS call_reports (
        id INTEGER PRIMARY KEY, call_sid TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL, received_at TEXT NOT NULL
      );
    `);
  }

  saveQuote(total: number, currency: string, details: unknown): string {
    const id = `Q-${randomUUID().slice(0, 8).toUpperCase()}`;
    this.#db
      .prepare('INSERT INTO quotes (id, total, currency, details, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, total, currency, JSON.stringify(details), new Date().toISOString());
    return id;
  }

  /** Free crews per slot for each date. */
  availability(dates: readonly string[]): { date: string; slots: Record<Slot, number> }[] {
    const count = this.#db.prepare(
      "SELECT slot, COUNT(*) AS n FROM bookings WHERE move_date = ? AND status = 'booked' GROUP BY slot",
    );
    return dates.map((date) => {
      const taken = new Map((count.all(date) as { slot: Slot; n: number }[]).map((r) => [r.slot, r.n]));
      return {
        date,
        slots: {
          morning: this.#capacity - (taken.get('morning') ?? 0),
          afternoon: this.#capacity - (taken.get('afternoon') ?? 0),
        },
      };
    });
  }

  /**
   * Books a slot. Replaying the same idempotency key returns the original booking (a retried tool
   * call never double-books); reusing a key for different details is refused.
   */
  book(request: NewBooking): { booking: Booking; replayed: boolean } {
    return this.#db
      .transaction(() => {
        const existing = this.#db
          .prepare('SELECT * FROM bookings WHERE idempotency_key = ?')
          .get(request.idempotency_key) as (Booking & { idempotency_key: string }) | undefined;
        if (existing) {
          const same =
            existing.move_date === request.move_date &&
            existing.slot === request.slot &&
            existing.phone === request.phone &&
            existing.customer_name === request.customer_name;
          if (!same)
            throw new BookingRefused(
              'That idempotency key was already used for a different booking; use a new key.',
            );
          return { booking: strip(existing), replayed: true };
        }
        const duplicate = this.#db
          .prepare("SELECT reference FROM bookings WHERE phone = ? AND move_date = ? AND status = 'booked'")
          .get(request.phone, request.move_date) as { reference: string } | undefined;
        if (duplicate) {
          throw new BookingRefused(
            `This caller already has a move booked on ${request.move_date} (reference ${duplicate.reference}). Offer to change or cancel that booking instead.`,
          );
        }
        const taken = (
          this.#db
            .prepare(
              "SELECT COUNT(*) AS n FROM bookings WHERE move_date = ? AND slot = ? AND status = 'booked'",
            )
            .get(request.move_date, request.slot) as { n: number }
        ).n;
        if (taken >= this.#capacity) {
          throw new BookingRefused(
            `The ${request.slot} of ${request.move_date} is fully booked. Check availability for another slot or date.`,
          );
        }
        let quotedTotal: number | null = null;
        if (request.quote_id) {
          const quote = this.#db.prepare('SELECT total FROM quotes WHERE id = ?').get(request.quote_id) as
            | { total: number }
            | undefined;
          if (!quote)
            throw new BookingRefused(
              `There is no quote ${request.quote_id}; get a quote first or book without one.`,
            );
          quotedTotal = quote.total;
        }
        const booking: Booking = {
          reference: newReference(),
          status: 'booked',
          customer_name: request.customer_name,
          phone: request.phone,
          from_address: request.from_address,
          to_address: request.to_address,
          move_date: request.move_date,
          slot: request.slot,
          quote_id: request.quote_id ?? null,
          quoted_total: quotedTotal,
          created_at: new Date().toISOString(),
        };
        this.#db
          .prepare(
            `INSERT INTO bookings (reference, idempotency_key, status, customer_name, phone, from_address, to_address,
             move_date, slot, quote_id, quoted_total, created_at)
           VALUES (@reference, @idempotency_key, @status, @customer_name, @phone, @from_address, @to_address,
             @move_date, @slot, @quote_id, @quoted_total, @created_at)`,
          )
          .run({ ...booking, idempotency_key: request.idempotency_key });
        return { booking, replayed: false };
      })
      .immediate();
  }

  get(reference: string): Booking | undefined {
    const row = this.#db
      .prepare('SELECT * FROM bookings WHERE reference = ?')
      .get(reference.toUpperCase().replace(/[^A-Z0-9]/g, ''));
    return row ? strip(row as Booking & { idempotency_key: string }) : undefined;
  }

  cancel(reference: string): Booking {
    return this.#db
      .transaction(() => {
        const booking = this.get(reference);
        if (!booking) throw new BookingRefused(`There is no booking with reference ${reference}.`);
        if (booking.status === 'cancelled')
          throw new BookingRefused(`Booking ${booking.reference} was already cancelled.`);
        this.#db
          .prepare("UPDATE bookings SET status = 'cancelled' WHERE reference = ?")
          .run(booking.reference);
        return { ...booking, status: 'cancelled' as const };
      })
      .immediate();
  }

  /** What voice-agent reports after calls (its webhooks): call summaries, messages, voicemails. */
  saveCallReport(callSid: string, event: string, data: unknown): void {
    this.#db
      .prepare('INSERT INTO call_reports (call_sid, event, data, received_at) VALUES (?, ?, ?, ?)')
      .run(callSid, event, JSON.stringify(data), new Date().toISOString());
  }

  callReports(): { call_sid: string; event: string; data: unknown }[] {
    return (
      this.#db.prepare('SELECT call_sid, event, data FROM call_reports ORDER BY id').all() as {
        call_sid: string;
        event: string;
        data: string;
      }[]
    ).map((r) => ({ ...r, data: JSON.parse(r.data) as unknown }));
  }

  close(): void {
    this.#db.close();
  }
}

function strip(row: Booking & { idempotency_key?: string }): Booking {
  const { idempotency_key: _key, ...booking } = row;
  return booking;
}
