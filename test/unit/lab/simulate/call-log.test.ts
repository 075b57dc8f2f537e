import { describe, expect, it } from 'vitest';
import { CallLog } from '../../../../src/lab/simulate/call-log.js';

describe('CallLog: a call as its events tell it', () => {
  it('marks a cut-off agent line with what was heard, whether the barge-in came before or after it', () => {
    const log = new CallLog();
    log.add({ type: 'transcript', atMs: 100, role: 'agent', text: 'Welcome to Swift Movers.', itemId: 'A' });
    log.add({
      type: 'barge_in',
      atMs: 900,
      cut: [
        { itemId: 'A', heardMs: 800 },
        { itemId: 'B', heardMs: 0 },
      ],
    });
    log.add({ type: 'transcript', atMs: 950, role: 'agent', text: 'Never heard.', itemId: 'B' });
    log.add({ type: 'transcript', atMs: 1500, role: 'caller', text: 'A quote please' });
    log.add({
      type: 'tool_call',
      atMs: 2000,
      name: 'get_quote',
      callId: 'c1',
      arguments: '{}',
      output: '{"price":240}',
      durationMs: 150,
      ok: true,
    });
    log.add({ type: 'ended', atMs: 3000, outcome: { kind: 'completed', reason: 'bye' }, durationMs: 3000 });
    expect(log.transcript).toEqual([
      { role: 'agent', text: 'Welcome to Swift Movers.', atMs: 100, interrupted: true, heardMs: 800 },
      { role: 'agent', text: 'Never heard.', atMs: 950, interrupted: true, heardMs: 0 },
      { role: 'caller', text: 'A quote please', atMs: 1500 },
    ]);
    expect(log.toolCalls).toEqual([
      {
        name: 'get_quote',
        callId: 'c1',
        arguments: '{}',
        result: { ok: true, output: '{"price":240}' },
        atMs: 1850,
        durationMs: 150,
      },
    ]);
    expect(log.outcome).toEqual({ kind: 'completed', reason: 'bye' });
  });
});
