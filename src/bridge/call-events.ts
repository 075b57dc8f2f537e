import type { CallOutcome, ModelEvent, ModelUsage, ToolErrorCode } from './ports.js';

/** Where a call is (see CallSession). */
export type CallState = 'connecting' | 'greeting' | 'active' | 'finishing' | 'ended';

/**
 * What happened on one call, in order: the one source that call records, metrics, logs and
 * simulate reports are built from (house rule 12), instead of reading a live session. `atMs` is
 * milliseconds since the call started. Agent audio is not an event per chunk (that would allocate on
 * the media path); speech is reported by its start and end.
 */
export type CallEvent = { atMs: number } & (
  | {
      type: 'started';
      callSid: string;
      streamId: string;
      from?: string;
      to?: string;
      /** outbound: the agent placed the call (`voice-agent call`). */
      direction?: 'inbound' | 'outbound';
    }
  /** An outbound call's answering-machine detection: who answered. */
  | { type: 'answered_by'; by: 'human' | 'machine' | 'fax' | 'unknown' }
  | { type: 'state'; state: CallState }
  /** `detectedAfterMs`: how long after the caller really started the model noticed, when known. */
  | { type: 'caller_speech_started'; detectedAfterMs?: number }
  | { type: 'caller_speech_stopped' }
  /** The first audio of an agent item was sent to the phone (a turn's answer starts being heard). */
  | { type: 'agent_speech_started'; itemId: string }
  /** The caller has heard all the agent said (the phone echoed the last mark), or cut it off. */
  | { type: 'agent_speech_stopped'; itemId: string; interrupted: boolean }
  /**
   * How long the caller waited, measured at our edge: for a `turn`, from the last caller frame of
   * the turn (the one before the model said the turn ended) to the answer's first audio sent; for
   * the `greeting`, from the stream's start. The model's end-of-turn silence window comes on top.
   */
  | { type: 'latency'; kind: 'turn' | 'greeting'; ms: number }
  /** Tokens one model response used (for cost). */
  | { type: 'usage'; usage: ModelUsage }
  | { type: 'transcript'; role: 'caller' | 'agent'; text: string; itemId?: string }
  /**
   * The caller cut the agent off: what was heard of each item cut, and `stopMs`, how long the agent
   * went on after the caller started speaking (detection delay; the clear is sent at once), when known.
   */
  | { type: 'barge_in'; cut: { itemId: string; heardMs: number }[]; stopMs?: number }
  /** The caller left a message (take_message). */
  | { type: 'message_taken'; name: string; phone: string; message: string }
  /** A tool call started running (its end is the `tool_call` event with the same callId). */
  | { type: 'tool_started'; name: string; callId: string }
  | {
      type: 'tool_call';
      name: string;
      callId: string;
      arguments: string;
      output: string;
      durationMs: number;
      ok: boolean;
      /** Why it failed (when `ok` is false). */
      code?: ToolErrorCode;
    }
  | { type: 'model_resumed'; reason: Extract<ModelEvent, { type: 'resumed' }>['reason']; gapMs: number }
  | { type: 'warning'; message: string }
  | { type: 'ended'; outcome: CallOutcome; durationMs: number }
);

/** Receives a call's events in order; a throw is logged and never reaches the call. */
export type CallEventListener = (event: CallEvent) => void;

/** A call event as its source states it; the stream adds the time. */
export type CallEventBody = CallEvent extends infer E ? (E extends unknown ? Omit<E, 'atMs'> : never) : never;
