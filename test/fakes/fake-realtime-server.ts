/**
 * The test suite's fake of OpenAI Realtime is the product's own local stand-in (src/realtime/local):
 * one implementation of the wire rules, used by `simulate --model local` and by every test.
 */
export { type Brain, type BrainContext, defaultBrain, type Plan } from '../../src/realtime/local/brain.js';
export {
  type LocalRealtimeServer as FakeRealtimeServer,
  startLocalRealtime as startFakeRealtime,
} from '../../src/realtime/local/server.js';
export {
  type LocalRealtimeOptions as FakeRealtimeOptions,
  LocalRealtimeSession as FakeRealtimeSession,
  type ProtocolError,
} from '../../src/realtime/local/session.js';
