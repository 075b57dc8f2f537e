import { describe, expect, it } from 'vitest';
import { RecordBuilder } from '../../../src/records/call-record.js';
import { callPage } from '../../../src/records/page/pages.js';
import { costOf } from '../../../src/records/pricing.js';

import { recordContext as context, recordEvents as events } from '../../helpers/record-events.js';

describe('RecordBuilder', () => {
  it('turns a call’s events into its record: lines on the timeline, cut-offs, latency, cost', () => {
    const builder = new RecordBuilder(context, 'CA1');
    for (const e of events) builder.add(e);
    const r = builder.record;
    expect(r.transcript).toEqual([
      { role: 'agent', text: 'Hello.', startMs: 300, endMs: 1500 },
      { role: 'caller', text: 'A quote please.', startMs: 2000, endMs: 3000 },
      {
        role: 'agent',
        text: 'Sure, how many rooms?',
        startMs: 3600,
        endMs: 4000,
        interrupted: true,
        heardMs: 400,
      },
    ]);
    expect(r.latency).toEqual({ greetingMs: 300, turns: [{ atMs: 3600, ms: 600 }], p50Ms: 600, maxMs: 600 });
    expect(r.startedAt).toBe('2026-11-25T09:00:00.000Z');
    expect(r.endedAt).toBe('2026-11-25T09:00:05.000Z');
    // (200 text × $4 + 800 cached × $0.40 + 500 audio × $32 + 100 × $16 + 1000 × $64) / 1M
    expect(r.cost.model).toBeCloseTo(0.08272, 6);
    // caller speech: 1 s, then 1 s more until the end → 2 s at $0.003/min
    expect(r.cost.transcription).toBeCloseTo(0.0001, 6);
    expect(r.cost.total).toBeCloseTo(0.08282, 6);
  });

  it('the calls page shows the post-call outcome, a voicemail and who answered an outbound call', () => {
    const builder = new RecordBuilder(context, 'CA1');
    for (const e of events) builder.add(e);
    const r = builder.record;
    r.postCall = {
      model: 'gpt-5-mini',
      data: { move_date: '2027-03-16', total: 795, reference: null },
      durationMs: 900,
    };
    r.voicemail = {
      recordingUrl: 'https://api.twilio.com/x/Recordings/RE1',
      seconds: 12,
      transcript: 'Call me <back>',
    };
    r.direction = 'outbound';
    r.answeredBy = 'human';
    const html = callPage(r, {});
    expect(html).toContain('<h2>Outcome <small>gpt-5-mini</small></h2>');
    expect(html).toContain('<tr><th>move_date</th><td>2027-03-16</td></tr>');
    expect(html).toContain('<tr><th>total</th><td>795</td></tr>');
    expect(html).toContain('<tr><th>reference</th><td>—</td></tr>');
    expect(html).toContain('Call me &lt;back&gt;'); // escaped
    expect(html).toContain('<a href="https://api.twilio.com/x/Recordings/RE1">Recording</a> (12 s)');
    expect(html).toContain('<dt>Outbound</dt>');
    expect(html).toContain('(answered by: human)');
    r.postCall = { model: 'gpt-5-mini', error: 'no answer within 30000 ms', durationMs: 30_000 };
    expect(callPage(r, {})).toContain('Not available: no answer within 30000 ms');
  });

  it('a model without known prices gets no invented cost, and says why', () => {
    const cost = costOf({
      usage: {
        inputTextTokens: 1,
        inputAudioTokens: 1,
        cachedTextTokens: 0,
        cachedAudioTokens: 0,
        outputTextTokens: 1,
        outputAudioTokens: 1,
      },
      prices: undefined,
      callerSpeechMs: 0,
      transcriptionPerMinute: undefined,
    });
    expect(cost.total).toBeUndefined();
    expect(cost.note).toContain('records.prices');
  });
});
