import { describe, expect, it } from 'vitest';
import { parseLiveEvent } from '../../../../src/model/live/events.js';

const parse = (event: unknown) => parseLiveEvent(JSON.stringify(event));

describe('GPT-Live events, parsed at the edge', () => {
  it('types the events the adapter acts on', () => {
    expect(parse({ type: 'session.started', session: { id: 'live_1', expires_at: 1700000000 } })).toEqual({
      type: 'session.started',
      expiresAt: 1700000000,
    });
    expect(parse({ type: 'session.output_audio.delta', delta: '////' })).toEqual({
      type: 'session.output_audio.delta',
      delta: '////',
    });
    expect(parse({ type: 'session.closed', reason: 'expired' })).toEqual({
      type: 'session.closed',
      reason: 'expired',
    });
    expect(
      parse({ type: 'error', error: { message: 'bad', code: 'invalid_value', client_event_id: 'evt_1' } }),
    ).toEqual({ type: 'error', message: 'bad', code: 'invalid_value', clientEventId: 'evt_1' });
    expect(
      parse({ type: 'response.event', delegation_id: 'd1', event: { type: 'response.created' } }),
    ).toEqual({
      type: 'response.event',
      delegationId: 'd1',
      event: { type: 'response.created' },
    });
  });

  it('a new event type passes as other; a field of the wrong type, or no JSON at all, is not acted on', () => {
    expect(parse({ type: 'session.something_new', x: 1 })).toEqual({
      type: 'other',
      name: 'session.something_new',
    });
    expect(parse({ type: 'session.output_audio.delta', delta: 42 })).toBeUndefined();
    expect(parse({ type: 'session.started' })).toBeUndefined();
    expect(parse({ type: 'error', error: 'bad' })).toBeUndefined();
    expect(parse({ type: 'response.event', event: 'x' })).toBeUndefined();
    expect(parse({ no: 'type' })).toBeUndefined();
    expect(parseLiveEvent('not json')).toBeUndefined();
  });
});
