import { type AgentConfig, agentSchema } from '../../src/config/schema.js';
import { startVoiceServer, type VoiceServer, type VoiceServerOptions } from '../../src/host/voice-server.js';
import { CallLog } from '../../src/lab/simulate/call-log.js';
import { TwilioCaller, type TwilioCallerOptions } from '../../src/lab/simulate/twilio-caller.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  type Brain,
  type FakeRealtimeOptions,
  type FakeRealtimeServer,
  startFakeRealtime,
} from '../fakes/fake-realtime-server.js';

/**
 * The model of the transfer calls (`transfer_call` with `on_no_answer: agent`): it says the greeting
 * its response asks for, asks to transfer when the caller speaks, and once its instructions say
 * nobody answered, goes on with the caller ("Of course.").
 */
export const transferThenTakeBack: Brain = (ctx) =>
  ctx.trigger === 'create' && ctx.instructions
    ? { say: [...ctx.instructions.matchAll(/"([^"]+)"/g)].at(-1)![1]! }
    : JSON.stringify(ctx.session.sent('session.update')).includes('nobody answered')
      ? { say: 'Of course.' }
      : { say: 'Connecting you.', call: [{ name: 'transfer_call', arguments: {} }] };

/** Every client event any harness's fake Realtime server received in this test file. */
export const recordedClientEvents: Record<string, unknown>[] = [];

export const AUTH_TOKEN = 'test-twilio-auth-token-0123456789';
export const API_KEY = 'sk-test-key';

export function testAgent(overrides: Record<string, unknown> = {}): AgentConfig {
  const parsed = agentSchema.parse({
    name: 'test',
    instructions: 'You are a test agent.',
    greeting: 'Hello, thanks for calling.',
    ...overrides,
  });
  const { instructions, instructions_file: _f, ...rest } = parsed;
  return { ...rest, instructions: instructions ?? '', source: '/test/agent.yaml' };
}

export interface Harness {
  fake: FakeRealtimeServer;
  server: VoiceServer;
  /** A call as its event stream told it (transcript, tool calls, outcome). */
  callLog(callSid: string): CallLog;
  /** Every log line the server wrote. */
  logs: string[];
  caller(options?: Partial<TwilioCallerOptions>): TwilioCaller;
  close(): Promise<void>;
}

/** A voice-agent server on 127.0.0.1:0 wired to a fake Realtime server. */
export async function startHarness(
  options: {
    agent?: Record<string, unknown>;
    fake?: FakeRealtimeOptions;
    server?: Partial<VoiceServerOptions>;
  } = {},
): Promise<Harness> {
  const fake = await startFakeRealtime({ apiKey: API_KEY, ...options.fake });
  const logs: string[] = [];
  const callLogs = new Map<string, CallLog>();
  const callLog = (callSid: string) => {
    const log = callLogs.get(callSid) ?? new CallLog();
    callLogs.set(callSid, log);
    return log;
  };
  const onCallEvent = options.server?.onCallEvent;
  const server = await startVoiceServer({
    agent: testAgent(options.agent),
    host: '127.0.0.1',
    port: 0,
    realtimeUrl: fake.url,
    openaiApiKey: API_KEY,
    twilioAuthToken: AUTH_TOKEN,
    logger: createLogger({ level: 'debug', json: true, write: (line) => logs.push(line) }),
    ...options.server,
    onCallEvent: (callSid, event) => {
      callLog(callSid).add(event);
      onCallEvent?.(callSid, event);
    },
  });
  return {
    fake,
    server,
    logs,
    callLog,
    caller: (callerOptions = {}) =>
      new TwilioCaller({ webhookUrl: server.webhookUrl, authToken: AUTH_TOKEN, ...callerOptions }),
    async close() {
      await server.close();
      recordedClientEvents.push(...fake.allClientEvents());
      await fake.close();
    },
  };
}

/** Polls until `check` returns a truthy value (generous bound: sockets, not timing, are under test). */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
