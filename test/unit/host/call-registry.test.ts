import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteSql } from '../../../src/db/sqlite.js';
import { CallRegistry } from '../../../src/host/call-registry.js';
import { SharedCalls } from '../../../src/host/calls/shared-calls.js';
import { mintStreamToken } from '../../../src/host/calls/stream-token.js';
import { FakeModelSession } from '../../fakes/fake-model-session.js';

function fakeConnection() {
  const session = new FakeModelSession();
  vi.spyOn(session, 'close');
  return session;
}

const KEY = Buffer.alloc(32, 7);

async function registry(options: { prewarmTimeoutMs?: number; maxConcurrent?: number } = {}) {
  const shared = await SharedCalls.open(new SqliteSql(':memory:'), 'here:1:a');
  return new CallRegistry({ shared, agent: 'moving', tokenKey: KEY, ...options });
}

async function tokenOf(r: CallRegistry, callSid: string, prewarm: () => FakeModelSession | undefined) {
  const registration = await r.register(callSid, prewarm);
  if (registration.kind === 'full') throw new Error('not admitted');
  return registration.token;
}

describe('CallRegistry', () => {
  afterEach(() => vi.useRealTimers());

  it('hands the pre-warmed model session to the stream with the right token, once', async () => {
    const r = await registry();
    const conn = fakeConnection();
    const token = await tokenOf(r, 'CA1', () => conn);
    expect(await r.claim('CA1', 'wrong')).toMatchObject({ ok: false });
    expect(await r.claim('CA2', token)).toMatchObject({ ok: false }); // minted for another call
    expect(await r.claim('CA1', token)).toEqual({
      ok: true,
      model: conn,
      parties: {},
      brief: { direction: 'inbound' },
      leg: 1,
    });
    expect(await r.claim('CA1', token)).toEqual({
      ok: false,
      reason: 'a token already used (a replayed or duplicate stream)',
    });
  });

  it('refuses a token minted for another agent, or one that expired', async () => {
    const r = await registry();
    await tokenOf(r, 'CA1', () => undefined);
    const otherAgent = mintStreamToken(KEY, { callSid: 'CA1', agent: 'dentist', leg: 1, instance: 'x' });
    expect(await r.claim('CA1', otherAgent)).toMatchObject({ ok: false });
    const old = mintStreamToken(KEY, { callSid: 'CA1', agent: 'moving', leg: 1, instance: 'x' }, 0);
    expect(await r.claim('CA1', old)).toEqual({ ok: false, reason: 'an expired token' });
  });

  it('closes a pre-warmed model session whose stream never arrives', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const r = await registry({ prewarmTimeoutMs: 1000 });
    const conn = fakeConnection();
    const token = await tokenOf(r, 'CA1', () => conn);
    vi.advanceTimersByTime(1001);
    expect(conn.close).toHaveBeenCalledOnce();
    expect(await r.claim('CA1', token)).toMatchObject({ ok: true, model: undefined });
  });

  it('remembers outcomes for the action URL; unknown calls count as failed', async () => {
    const r = await registry();
    await tokenOf(r, 'CA1', () => undefined);
    expect(await r.outcomeOf('CA1')).toEqual({
      kind: 'failed',
      code: 'stream_never_started',
      reason: 'the media stream never started',
    });
    const token = await tokenOf(r, 'CA2', () => undefined);
    await r.claim('CA2', token);
    await r.recordOutcome('CA2', { kind: 'completed', reason: 'bye' });
    expect(await r.outcomeOf('CA2')).toEqual({ kind: 'completed', reason: 'bye' });
    expect((await r.outcomeOf('CA9')).kind).toBe('failed');
  });

  it('a repeated webhook for the same call gets a token for the same leg and opens no second socket', async () => {
    const r = await registry();
    const first = fakeConnection();
    const prewarm = vi.fn(() => first);
    const token = await tokenOf(r, 'CA1', prewarm);
    const again = await r.register('CA1', prewarm);
    expect(again.kind).toBe('repeated');
    expect(prewarm).toHaveBeenCalledOnce();
    expect(first.close).not.toHaveBeenCalled();
    // a replay after the call ended does not reset its outcome, and its token opens nothing
    await r.claim('CA1', token);
    await r.recordOutcome('CA1', { kind: 'completed', reason: 'bye' });
    const replayed = await r.register('CA1', prewarm);
    expect(replayed.kind).toBe('repeated');
    if (replayed.kind === 'full') return;
    expect(await r.claim('CA1', replayed.token)).toMatchObject({ ok: false });
    expect(await r.outcomeOf('CA1')).toEqual({ kind: 'completed', reason: 'bye' });
  });

  it('answers over call.max_concurrent with full until a call ends', async () => {
    const r = await registry({ maxConcurrent: 2 });
    const a = await tokenOf(r, 'CA1', () => undefined);
    await tokenOf(r, 'CA2', () => undefined);
    expect(await r.register('CA3', () => undefined)).toEqual({ kind: 'full', live: 2 });
    await r.claim('CA1', a);
    await r.recordOutcome('CA1', { kind: 'completed', reason: 'bye' });
    expect((await r.register('CA3', () => undefined)).kind).toBe('admitted');
  });

  it('knows which ended calls Twilio has not yet asked what next', async () => {
    const r = await registry();
    await tokenOf(r, 'CA1', () => undefined);
    await tokenOf(r, 'CA2', () => undefined);
    await r.outcomeOf('CA1');
    expect(await r.awaitingAction(['CA1', 'CA2', 'CA9'])).toEqual(['CA2']);
  });

  it('resumes a transferred call with a new one-time token and brief; refuses calls that were not transferred', async () => {
    const r = await registry();
    const registration = await r.register(
      'CA1',
      () => undefined,
      {},
      { direction: 'inbound', greeting: 'Hi' },
    );
    if (registration.kind === 'full') throw new Error('not admitted');
    const { token } = registration;
    const same = (b: object) => b as never;
    expect(await r.resume('CA1', same, () => undefined)).toBeUndefined(); // not claimed yet
    expect((await r.claim('CA1', token)).ok).toBe(true);
    await r.recordOutcome('CA1', { kind: 'completed', reason: 'hung up' });
    expect(await r.resume('CA1', same, () => undefined)).toBeUndefined(); // not a transfer
    await r.recordOutcome('CA1', { kind: 'transfer', to: '+15550009999', reason: 'asked for a person' });
    const again = await r.resume(
      'CA1',
      (b) => ({ ...b, greeting: 'Sorry' }),
      () => undefined,
    );
    expect(again).toBeDefined();
    expect(await r.claim('CA1', token)).toMatchObject({ ok: false }); // the old token stays spent
    expect(await r.claim('CA1', again)).toMatchObject({ ok: true, brief: { greeting: 'Sorry' } });
    expect(await r.claim('CA1', again)).toMatchObject({ ok: false });
    r.close();
  });
});
