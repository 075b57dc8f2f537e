/**
 * The test suite's fake of OpenAI Realtime is the product's own local stand-in (src/lab/openai):
 * one implementation of the wire rules, used by `simulate --model local` and by every test.
 */
export { type Brain, type BrainContext, defaultBrain, type Plan } from '../../src/lab/openai/brain.js';
export {
  type LocalRealtimeServer as FakeRealtimeServer,
  startLocalRealtime as startFakeRealtime,
} from '../../src/lab/openai/server.js';
export {
  type LocalRealtimeOptions as FakeRealtimeOptions,
  LocalRealtimeSession as FakeRealtimeSession,
  type ProtocolError,
} from '../../src/lab/openai/session.js';
