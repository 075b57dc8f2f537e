import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallRegistry } from '../../../src/server/call-registry.js';
import { FakeModelSession } from '../../fakes/fake-model-session.js';

function fakeConnection() {
  const session = new FakeModelSession();
  vi.spyOn(session, 'close');
  return session;
}

describe('CallRegistry', () => {
  afterEach(() => vi.useRealTimers());

  it('hands the pre-warmed model session to the stream with the right token, once', () => {
    const r = new CallRegistry();
    const conn = fakeConnection();
    const token = r.register('CA1', () => conn).token;
    expect(r.claim('CA1', 'wrong')).toEqual({ ok: false });
    expect(r.claim('CA2', token)).toEqual({ ok: false });
    expect(r.claim('CA1', token)).toEqual({
      ok: true,
      model: conn,
      parties: {},
      brief: { direction: 'inbound' },
    });
    expect(r.claim('CA1', token)).toEqual({ ok: false }); // one-time
  });

  it('closes a pre-warmed model session whose stream never arrives', () => {
    vi.useFakeTimers();
    const r = new CallRegistry({ prewarmTimeoutMs: 1000 });
    const conn = fakeConnection();
    const token = r.register('CA1', () => conn).token;
    vi.advanceTimersByTime(1001);
    expect(conn.close).toHaveBeenCalledOnce();
    expect(r.claim('CA1', token)).toEqual({
      ok: true,
      model: undefined,
      parties: {},
      brief: { direction: 'inbound' },
    });
  });

  it('remembers outcomes for the action URL; unknown calls count as failed', () => {
    const r = new CallRegistry();
    r.register('CA1', () => undefined);
    expect(r.outcomeOf('CA1')).toEqual({
      kind: 'failed',
      code: 'stream_never_started',
      reason: 'the media stream never started',
    });
    r.recordOutcome('CA1', { kind: 'completed', reason: 'bye' });
    expect(r.outcomeOf('CA1')).toEqual({ kind: 'completed', reason: 'bye' });
    expect(r.outcomeOf('CA9').kind).toBe('failed');
  });

  it('a repeated webhook for the same call gets the same token and opens no second socket', () => {
    const r = new CallRegistry();
    const first = fakeConnection();
    const prewarm = vi.fn(() => first);
    const { token } = r.register('CA1', prewarm);
    expect(r.register('CA1', prewarm)).toEqual({ token, repeated: true });
    expect(prewarm).toHaveBeenCalledOnce();
    expect(first.close).not.toHaveBeenCalled();
    // a replay after the call ended does not reset its outcome
    r.claim('CA1', token);
    r.recordOutcome('CA1', { kind: 'completed', reason: 'bye' });
    r.register('CA1', prewarm);
    expect(r.outcomeOf('CA1')).toEqual({ kind: 'completed', reason: 'bye' });
  });

  it('knows which ended calls Twilio has not yet asked what next', () => {
    const r = new CallRegistry();
    r.register('CA1', () => undefined);
    r.register('CA2', () => undefined);
    r.outcomeOf('CA1');
    expect(r.awaitingAction(['CA1', 'CA2', 'CA9'])).toEqual(['CA2']);
  });
  it('resumes a transferred call with a new one-time token and brief; refuses calls that were not transferred', () => {
    const r = new CallRegistry();
    const { token } = r.register('CA1', () => undefined, {}, { direction: 'inbound', greeting: 'Hi' });
    expect(
      r.resume(
        'CA1',
        (b) => b,
        () => undefined,
      ),
    ).toBeUndefined(); // not claimed yet
    expect(r.claim('CA1', token).ok).toBe(true);
    r.recordOutcome('CA1', { kind: 'completed', reason: 'hung up' });
    expect(
      r.resume(
        'CA1',
        (b) => b,
        () => undefined,
      ),
    ).toBeUndefined(); // not a transfer
    r.recordOutcome('CA1', { kind: 'transfer', to: '+15550009999', reason: 'asked for a person' });
    const again = r.resume(
      'CA1',
      (b) => ({ ...b, greeting: 'Sorry' }),
      () => undefined,
    )!;
    expect(again).not.toBe(token);
    expect(r.claim('CA1', token)).toEqual({ ok: false }); // the old token stays spent
    expect(r.claim('CA1', again)).toMatchObject({ ok: true, brief: { greeting: 'Sorry' } });
    expect(r.claim('CA1', again)).toEqual({ ok: false });
    r.close();
  });
});
