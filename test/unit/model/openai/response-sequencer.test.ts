import { describe, expect, it } from 'vitest';
import { ResponseSequencer } from '../../../../src/model/openai/response-sequencer.js';

type Create = {
  type: string;
  event_id: string;
  response: { instructions?: string; metadata: { request: string } };
};

function sequencer() {
  const sent: Create[] = [];
  const s = new ResponseSequencer((e) => sent.push(e as Create));
  return { s, sent };
}

describe('ResponseSequencer', () => {
  it('never sends a second response.create while one is requested or running', () => {
    const { s, sent } = sequencer();
    const greet = s.request({ instructions: 'greet' });
    const plain = s.request();
    expect(s.request()).toBe(plain); // plain requests merge
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: 'response.create',
      response: { instructions: 'greet', metadata: { request: greet } },
    });
    expect(sent[0]!.event_id).toBeTruthy();
    s.created(greet);
    expect(s.running).toBe(true);
    expect(s.done()).toBe(greet);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.response).toEqual({ metadata: { request: plain } });
    s.created(plain);
    s.done();
    expect(sent).toHaveLength(2);
    expect(s.running).toBe(false);
  });

  it('waits for a response the server started on its own (VAD)', () => {
    const { s, sent } = sequencer();
    s.created(undefined);
    s.request();
    expect(sent).toEqual([]);
    expect(s.done()).toBeUndefined();
    expect(sent).toHaveLength(1);
  });

  it('keeps a request the server refused as busy after a VAD response.created, and sends it after that response', () => {
    const { s, sent } = sequencer();
    const farewell = s.request({ instructions: 'farewell' });
    s.created(undefined); // the VAD's response, created just before ours arrived
    expect(s.rejected(sent[0]!.event_id, true)).toBe(farewell);
    expect(sent).toHaveLength(1);
    expect(s.done()).toBeUndefined(); // the VAD response served no request of ours
    expect(sent).toHaveLength(2);
    expect(sent[1]!.response).toEqual({ instructions: 'farewell', metadata: { request: farewell } });
    expect(sent[1]!.event_id).not.toBe(sent[0]!.event_id);
    s.created(farewell);
    expect(s.done()).toBe(farewell);
  });

  it('re-queues a busy rejection that arrives before any response.created', () => {
    const { s, sent } = sequencer();
    s.request({ instructions: 'x' });
    s.rejected(sent[0]!.event_id, true);
    expect(s.running).toBe(true);
    expect(sent).toHaveLength(1);
    s.done();
    expect(sent).toHaveLength(2);
  });

  it('drops a request refused for another reason instead of retrying it forever', () => {
    const { s, sent } = sequencer();
    const bad = s.request({ instructions: 'x' });
    const next = s.request();
    expect(s.rejected(sent[0]!.event_id, false)).toBe(bad);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.response.metadata.request).toBe(next);
  });

  it('ignores errors about events that are not its creates', () => {
    const { s, sent } = sequencer();
    s.request();
    expect(s.rejected('some_other_event', true)).toBeUndefined();
    expect(s.rejected(undefined, true)).toBeUndefined();
    expect(sent).toHaveLength(1);
  });

  it('settles an accepted request at done even when the service does not echo metadata', () => {
    const { s, sent } = sequencer();
    const id = s.request({ instructions: 'x' });
    s.created(undefined);
    expect(s.done()).toBe(id);
    s.request();
    expect(sent).toHaveLength(2);
  });
});
