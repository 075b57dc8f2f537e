import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { CallEventListener } from '../../src/bridge/call-events.js';
import { type CallBehaviour, CallSession } from '../../src/bridge/call-session.js';
import type { CallOutcome, MediaStreamPort, ToolExecutor } from '../../src/bridge/ports.js';
import type {
  RealtimeClosed,
  RealtimeConnection,
  RealtimeListener,
} from '../../src/model/openai/connection.js';
import { parseServerEvent } from '../../src/model/openai/events.js';
import { OpenAiModelSession } from '../../src/model/openai/model-session.js';
import { createLogger } from '../../src/observability/logger.js';

/** A call's behaviour in tests: the agent file's defaults. */
export const TEST_BEHAVIOUR: CallBehaviour = {
  interruptResponse: true,
  maxDurationS: 1800,
  idleTimeoutS: 60,
  logTranscripts: false,
};

const INSTRUCTIONS = 'You are Ada, the moving company assistant. Always answer in English.';

/**
 * A Realtime connection in memory: records what the OpenAI adapter sends, lets a test play the
 * server in the real wire format. A call built on it runs the call core and the adapter together.
 */
export class InMemoryRealtime implements RealtimeConnection {
  constructor(readonly openedAt = 0) {}
  readonly sent: (RealtimeClientEvent & { event_id?: string })[] = [];
  appended = 0;
  closed = false;
  #listener: RealtimeListener | undefined;

  send(event: RealtimeClientEvent): void {
    this.sent.push(event);
  }
  appendAudio(base64: string): void {
    this.appended += Buffer.from(base64, 'base64').length;
  }
  attach(listener: RealtimeListener): void {
    this.#listener = listener;
  }
  close(): void {
    this.closed = true;
  }
  /** A server event, in the wire format (parsed exactly as the real connection does). */
  emit(event: Record<string, unknown>): void {
    const parsed = parseServerEvent(JSON.stringify(event));
    if (parsed) this.#listener?.onEvent(parsed);
  }
  drop(closed: RealtimeClosed): void {
    this.#listener?.onClose(closed);
  }
  of(type: string): Record<string, unknown>[] {
    return this.sent.filter((e) => e.type === type) as unknown as Record<string, unknown>[];
  }
}

/** The Twilio side in memory. */
export class InMemoryMedia implements MediaStreamPort {
  readonly frames: string[] = [];
  readonly marks: string[] = [];
  clears = 0;
  closed = false;
  sendMedia(payload: string): boolean {
    this.frames.push(payload);
    return true;
  }
  sendMark(name: string): void {
    this.marks.push(name);
  }
  sendClear(): void {
    this.clears++;
  }
  close(): void {
    this.closed = true;
  }
}

export interface InMemoryCall {
  session: CallSession;
  realtime: InMemoryRealtime;
  media: InMemoryMedia;
  logs: string[];
  outcomes: CallOutcome[];
  clock: { now: number };
  /** The service's answer to our configuration. */
  configure(): void;
}

export function inMemoryCall(
  options: {
    behaviour?: Partial<CallBehaviour>;
    tools?: ToolExecutor;
    onEnded?: (outcome: CallOutcome) => void;
    /** When the Realtime socket opened (the call starts at 0). */
    openedAt?: number;
    onEvent?: CallEventListener;
    /** Realtime's `create_response` (default true). */
    createResponse?: boolean;
  } = {},
): InMemoryCall {
  const realtime = new InMemoryRealtime(options.openedAt);
  const media = new InMemoryMedia();
  const logs: string[] = [];
  const outcomes: CallOutcome[] = [];
  const clock = { now: 0 };
  const session = new CallSession({
    callSid: 'CA0001',
    streamId: 'MZ0001',
    media,
    model: new OpenAiModelSession(realtime, {
      instructions: INSTRUCTIONS,
      ...(options.createResponse === undefined ? {} : { createResponse: options.createResponse }),
    }),
    logger: createLogger({ level: 'debug', json: true, write: (line) => logs.push(line) }),
    now: () => clock.now,
    ...(options.tools ? { tools: { definitions: () => [], forCall: () => options.tools! } } : {}),
    onEvent: (event) => {
      if (event.type === 'ended') {
        outcomes.push(event.outcome);
        options.onEnded?.(event.outcome);
      }
      options.onEvent?.(event);
    },
    behaviour: { ...TEST_BEHAVIOUR, ...options.behaviour },
  });
  session.start();
  return {
    session,
    realtime,
    media,
    logs,
    outcomes,
    clock,
    configure: () =>
      realtime.emit({
        type: 'session.updated',
        session: {
          audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } },
        },
      }),
  };
}

/** Server events for one spoken response, in the GA wire format. */
export const wire = {
  created: (id: string, request?: string) => ({
    type: 'response.created',
    response: { id, status: 'in_progress', output: [], metadata: request ? { request } : null },
  }),
  delta: (responseId: string, itemId: string, ms: number) => ({
    type: 'response.output_audio.delta',
    response_id: responseId,
    item_id: itemId,
    content_index: 0,
    delta: Buffer.alloc(ms * 8, 0xff).toString('base64'),
  }),
  done: (id: string, output: unknown[] = []) => ({
    type: 'response.done',
    response: { id, status: 'completed', output },
  }),
  functionCall: (responseId: string, callId: string, name: string, args = '{}') => ({
    type: 'response.output_item.done',
    response_id: responseId,
    item: {
      type: 'function_call',
      id: `item_${callId}`,
      call_id: callId,
      name,
      arguments: args,
      status: 'completed',
    },
  }),
  speechStarted: () => ({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u1' }),
  committed: () => ({ type: 'input_audio_buffer.committed', item_id: 'u1' }),
  error: (code: string, eventId?: string) => ({
    type: 'error',
    error: { type: 'invalid_request_error', code, message: `refused: ${code}`, event_id: eventId ?? null },
  }),
};

/** Lets pending promise callbacks run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
