import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentSchema } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/observability/logger.js';
import { McpPool } from '../../../src/tools/mcp/pool.js';
import { MOVING_SERVER, startHttpServer } from '../../helpers/mcp-servers.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const signal = () => new AbortController().signal;

async function movingPool(servers: Record<string, unknown>[]): Promise<McpPool> {
  const configs = agentSchema.parse({ name: 'x', instructions: 'x', mcp_servers: servers }).mcp_servers;
  const pool = new McpPool(configs, createLogger({ level: 'silent' }));
  cleanups.push(() => pool.close());
  await pool.start();
  return pool;
}

const stdio = (db: string, name = 'moving', extra: string[] = []) => ({
  name,
  command: process.execPath,
  args: [MOVING_SERVER, '--db', db, ...extra],
});
const booking = (over: Record<string, unknown> = {}) => ({
  customer_name: 'Grace Hopper',
  phone: '+15550001234',
  from_address: '1 Navy Rd',
  to_address: '2 Cobol Ave',
  move_date: day(10),
  slot: 'afternoon',
  idempotency_key: 'key-grace-0001',
  ...over,
});
const call = async (pool: McpPool, tool: string, args: Record<string, unknown>) =>
  JSON.parse((await pool.call(tool, args, signal())).output);

describe('the moving company tools server', () => {
  it('quotes from the rate card and rejects past dates', async () => {
    const pool = await movingPool([stdio(join(tmp(), 'm.sqlite'))]);
    const quote = await call(pool, 'get_quote', {
      from_address: 'a st',
      to_address: 'b st',
      home_size: '3_bedroom',
      move_date: day(30),
      packing: true,
      stairs_flights_origin: 1,
    });
    expect(quote).toMatchObject({
      quote_id: expect.stringMatching(/^Q-/),
      currency: 'USD',
      movers: 3,
      estimated_hours: 7,
    });
    expect(quote.breakdown.map((l: { item: string }) => l.item)).toEqual(
      expect.arrayContaining(['packing service', 'stairs: 1 flight']),
    );
    expect(
      await call(pool, 'get_quote', {
        from_address: 'a st',
        to_address: 'b st',
        home_size: 'studio',
        move_date: '2001-01-01',
      }),
    ).toEqual({
      error: expect.stringContaining('is in the past'),
    });
    expect(
      (
        await call(pool, 'get_quote', {
          from_address: 'a',
          to_address: 'b st',
          home_size: 'castle',
          move_date: day(3),
        })
      ).error,
    ).toMatch(/Input validation error/);
  });

  it('checks availability, books, finds, cancels', async () => {
    const pool = await movingPool([stdio(join(tmp(), 'm.sqlite'))]);
    const before = await call(pool, 'check_availability', { date_from: day(10), date_to: day(11) });
    expect(before.days).toEqual([
      { date: day(10), free: ['morning', 'afternoon'], crews_free: { morning: 2, afternoon: 2 } },
      { date: day(11), free: ['morning', 'afternoon'], crews_free: { morning: 2, afternoon: 2 } },
    ]);
    const booked = await call(pool, 'book_move', booking());
    expect(booked).toMatchObject({
      status: 'booked',
      replayed: false,
      reference: expect.stringMatching(/^[A-Z0-9]{6}$/),
    });
    expect(
      (await call(pool, 'check_availability', { date_from: day(10) })).days[0].crews_free.afternoon,
    ).toBe(1);
    expect(await call(pool, 'get_booking', { reference: booked.reference })).toMatchObject({
      customer_name: 'Grace Hopper',
    });
    expect(await call(pool, 'cancel_booking', { reference: booked.reference })).toMatchObject({
      status: 'cancelled',
    });
    expect((await call(pool, 'cancel_booking', { reference: booked.reference })).error).toMatch(
      /already cancelled/,
    );
    expect((await call(pool, 'get_booking', { reference: 'ZZZZZZ' })).error).toMatch(/no booking/);
  });

  it('never double-books: idempotent retries, same caller same day, full slot', async () => {
    const pool = await movingPool([stdio(join(tmp(), 'm.sqlite'))]);
    const first = await call(pool, 'book_move', booking());
    const retry = await call(pool, 'book_move', booking());
    expect(retry).toMatchObject({ reference: first.reference, replayed: true });
    expect(
      (await call(pool, 'book_move', booking({ idempotency_key: 'key-grace-0002', slot: 'morning' }))).error,
    ).toMatch(/already has a move booked/);
    await call(pool, 'book_move', booking({ idempotency_key: 'key-other-0001', phone: '+15550002222' }));
    expect(
      (await call(pool, 'book_move', booking({ idempotency_key: 'key-other-0002', phone: '+15550003333' })))
        .error,
    ).toMatch(/fully booked/);
  });

  it('bookings survive a restart of the server', async () => {
    const db = join(tmp(), 'm.sqlite');
    const first = await movingPool([stdio(db)]);
    const booked = await call(first, 'book_move', booking());
    await first.close();
    const second = await movingPool([stdio(db)]);
    expect(await call(second, 'get_booking', { reference: booked.reference })).toMatchObject({
      status: 'booked',
    });
  });

  it('two server processes racing for the last crew of a slot: exactly one wins', async () => {
    const dir = tmp();
    const db = join(dir, 'm.sqlite');
    writeFiles(dir, {
      'card.json': JSON.stringify({
        ...(await import('../../../agents/moving-tools/rate-card.json', { with: { type: 'json' } })).default,
        crews_per_slot: 1,
      }),
    });
    const pool = await movingPool([
      stdio(db, 'a', ['--rate-card', join(dir, 'card.json')]),
      stdio(db, 'b', ['--rate-card', join(dir, 'card.json')]),
    ]);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(
          pool,
          i % 2 ? 'b__book_move' : 'a__book_move',
          booking({ idempotency_key: `race-key-${i}00`, phone: `+1555000${1000 + i}` }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'booked')).toHaveLength(1);
    expect(results.filter((r) => /fully booked/.test(r.error ?? ''))).toHaveLength(5);
  });

  it('serves Streamable HTTP with bearer-token auth', async () => {
    const db = join(tmp(), 'm.sqlite');
    const server = await startHttpServer([MOVING_SERVER, '--http', '--port', '0', '--db', db], {
      path: '/mcp',
      env: { MOVING_TOOLS_TOKEN: 'tools-secret' },
    });
    cleanups.push(() => server.stop());
    const denied = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(denied.status).toBe(401);
    const wrong = await movingPool([
      { name: 'remote', url: server.url, headers: { Authorization: 'Bearer nope' } },
    ]);
    expect(wrong.status()[0]!.state).toBe('down');
    const pool = await movingPool([
      { name: 'remote', url: server.url, headers: { Authorization: 'Bearer tools-secret' } },
    ]);
    expect(pool.definitions()).toHaveLength(6); // five for the agent, save_call_report for its webhooks
    expect(await call(pool, 'book_move', booking())).toMatchObject({ status: 'booked' });
  });
});
