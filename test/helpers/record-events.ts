import type { CallEvent } from '../../src/bridge/call-events.js';
import { MODEL_PRICES } from '../../src/records/pricing.js';

/** How the test calls are recorded: a fixed agent, clock and prices. */
export const recordContext = {
  agent: { name: 'a', hash: 'h', model: 'gpt-realtime', transcriptionModel: 'gpt-4o-mini-transcribe' },
  simulated: false,
  prices: MODEL_PRICES['gpt-realtime'],
  transcriptionPerMinute: 0.003,
  redact: false,
  now: () => Date.UTC(2026, 10, 25, 9, 0, 0),
};
/** A served call as its events tell it: the greeting, a caller turn and its answer, a barge-in, usage, the end. */
export const recordEvents: CallEvent[] = [
  { atMs: 0, type: 'started', callSid: 'CA1', streamId: 'MZ1', from: '+15551234567' },
  { atMs: 300, type: 'agent_speech_started', itemId: 'g' },
  { atMs: 300, type: 'latency', kind: 'greeting', ms: 300 },
  { atMs: 900, type: 'transcript', role: 'agent', text: 'Hello.', itemId: 'g' },
  { atMs: 1500, type: 'agent_speech_stopped', itemId: 'g', interrupted: false },
  { atMs: 2000, type: 'caller_speech_started' },
  { atMs: 3000, type: 'caller_speech_stopped' },
  { atMs: 3400, type: 'transcript', role: 'caller', text: 'A quote please.' },
  { atMs: 3600, type: 'agent_speech_started', itemId: 'a' },
  { atMs: 3600, type: 'latency', kind: 'turn', ms: 600 },
  { atMs: 3700, type: 'transcript', role: 'agent', text: 'Sure, how many rooms?', itemId: 'a' },
  { atMs: 4000, type: 'caller_speech_started' },
  { atMs: 4000, type: 'agent_speech_stopped', itemId: 'a', interrupted: true },
  { atMs: 4000, type: 'barge_in', cut: [{ itemId: 'a', heardMs: 400 }] },
  {
    atMs: 4100,
    type: 'usage',
    usage: {
      inputTextTokens: 1000,
      inputAudioTokens: 500,
      cachedTextTokens: 800,
      cachedAudioTokens: 0,
      outputTextTokens: 100,
      outputAudioTokens: 1000,
    },
  },
  { atMs: 5000, type: 'ended', outcome: { kind: 'completed', reason: 'bye' }, durationMs: 5000 },
];
