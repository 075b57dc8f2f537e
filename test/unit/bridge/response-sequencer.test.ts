import { describe, expect, it } from 'vitest';
import { ResponseSequencer } from '../../../src/bridge/response-sequencer.js';

describe('ResponseSequencer', () => {
  it('never sends a second response.create while one is requested or running', () => {
    const sent: unknown[] = [];
    const s = new ResponseSequencer((e) => sent.push(e));
    s.request({ instructions: 'greet' });
    s.request();
    s.request();
    expect(sent).toEqual([{ type: 'response.create', response: { instructions: 'greet' } }]);
    s.created();
    expect(s.running).toBe(true);
    s.done();
    expect(sent).toEqual([
      { type: 'response.create', response: { instructions: 'greet' } },
      { type: 'response.create' },
    ]);
    s.created();
    s.done();
    expect(sent).toHaveLength(2); // the two plain requests were merged
    expect(s.active).toBe(false);
  });

  it('waits for a response the server started on its own (VAD)', () => {
    const sent: unknown[] = [];
    const s = new ResponseSequencer((e) => sent.push(e));
    s.created();
    s.request();
    expect(sent).toEqual([]);
    s.done();
    expect(sent).toEqual([{ type: 'response.create' }]);
  });

  it('re-queues a create the server refused as busy', () => {
    const sent: unknown[] = [];
    const s = new ResponseSequencer((e) => sent.push(e));
    s.request({ instructions: 'x' });
    s.rejectedAsBusy();
    expect(s.running).toBe(true);
    s.done();
    expect(sent).toEqual([
      { type: 'response.create', response: { instructions: 'x' } },
      { type: 'response.create', response: { instructions: 'x' } },
    ]);
  });
});
