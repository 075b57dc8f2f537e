/**
 * The small interfaces the bridge talks to (house rule 1); the call's outcome is in call-outcome.ts and
 * the tools' side in tool-ports.ts. Implementations live with their peer: the Twilio WebSocket adapter
 * in telephony/twilio/, the Realtime and GPT-Live sockets in model/, tools in tools/.
 */

/** The Twilio side of one call: a bidirectional Media Stream. */
export interface MediaStreamPort {
  /**
   * Base64 μ-law 8 kHz, no header. False when the frame was dropped because the peer is not reading
   * (its send buffer is full): that audio was never played.
   */
  sendMedia(payload: string): boolean;
  sendMark(name: string): void;
  sendClear(): void;
  /** Close the stream; Twilio then requests the `<Connect action>` URL. */
  close(): void;
}

export type { CallFailureCode, CallOutcome } from './call-outcome.js';

/** What the phone side of a call reports (Twilio Media Streams today), after `start`. */
export type MediaEvent =
  /** Caller audio: base64 μ-law 8 kHz, validated; `timestampMs` on the stream's clock. */
  | { type: 'audio'; payload: string; timestampMs: number }
  /** The audio queued before this mark has played (or was cleared). */
  | { type: 'played'; mark: string }
  | { type: 'dtmf'; digit: string }
  /** The stream ended from the phone side (the caller hung up, or the call was redirected). */
  | { type: 'stopped' };

import type { ToolResult } from './tool-ports.js';

export type { CallControl, ToolErrorCode, ToolExecutor, ToolResult } from './tool-ports.js';

/**
 * Sees a call's audio where it crosses our edge, to record it. Optional: without a tap the media
 * path does no extra work. Times are milliseconds since the call started.
 */
export interface CallAudioTap {
  /** Caller audio as received (base64 μ-law 8 kHz); `timestampMs` on the stream's clock. */
  caller(payload: string, timestampMs: number): void;
  /** Agent audio as sent to the phone at `atMs`: it plays after whatever is still queued there. */
  agent(payload: string, atMs: number): void;
  /** The phone's queue was cleared at `atMs` (barge-in): agent audio not played yet never will be. */
  cleared(atMs: number): void;
}

export interface TranscriptEntry {
  role: 'caller' | 'agent';
  text: string;
  /** Milliseconds since the call started. */
  atMs: number;
  /** The agent was cut off by the caller (text may include words not heard). */
  interrupted?: boolean;
  /** With `interrupted`: how much of this line's audio the caller heard (ms). */
  heardMs?: number;
}

export interface ToolCallRecord {
  name: string;
  callId: string;
  arguments: string;
  result: ToolResult;
  atMs: number;
  durationMs: number;
}

/** Why a model session failed or closed, as the call core sees it (provider codes stay in adapters). */
export type ModelErrorCode =
  | 'config_rejected'
  | 'session_limit'
  | 'auth'
  | 'rate_limited'
  | 'unreachable'
  | 'stalled'
  | 'closed'
  | 'other';

/**
 * Tokens one response used, by kind: what the cost is computed from. Input counts include the cached
 * part (`cached*`), as providers report them.
 */
export interface ModelUsage {
  inputTextTokens: number;
  inputAudioTokens: number;
  cachedTextTokens: number;
  cachedAudioTokens: number;
  outputTextTokens: number;
  outputAudioTokens: number;
}

/** One function call the model made (complete: its arguments are final). */
export interface ModelToolCall {
  callId: string;
  name: string;
  /** JSON text, as the model wrote it (may be invalid). */
  arguments: string;
}

/** What a model session reports, in order. Item and response ids are the provider's, opaque here. */
export type ModelEvent =
  /** The provider confirmed our configuration: the agent may speak. */
  | { type: 'ready' }
  /**
   * The caller started speaking; `lagMs`: how long ago, by the audio sent since (the provider's
   * detection delay), when the provider says where in the audio speech began.
   */
  | { type: 'speech_started'; lagMs?: number }
  | { type: 'speech_stopped' }
  /** The caller's turn is final (server turn detection). */
  /**
   * The caller's turn is over. `answered`: the model answers it by itself (the provider's own
   * setting, e.g. Realtime's `create_response`); otherwise the core asks for the answer.
   */
  | { type: 'turn_committed'; answered: boolean }
  | { type: 'response_started'; responseId: string }
  | { type: 'audio'; responseId: string; itemId: string; contentIndex: number; chunk: string }
  | { type: 'audio_done'; responseId: string; itemId: string }
  | { type: 'transcript'; role: 'caller' | 'agent'; itemId: string; text: string }
  | { type: 'tool_call'; responseId: string; call: ModelToolCall }
  /**
   * No more calls will join this batch (its `tool_call`s' responseId): run them and answer. For
   * providers whose tool calls come outside the spoken responses (GPT-Live's delegation);
   * `response_done` ends a batch otherwise.
   */
  | { type: 'tool_batch_done'; batchId: string; toolCalls: ModelToolCall[] }
  | {
      type: 'response_done';
      responseId: string;
      /** The request this response answered (from {@link ModelSession.respond}), when known. */
      requestId: string | undefined;
      /** Calls of this response not reported yet (a backup for missed `tool_call` events). */
      toolCalls: ModelToolCall[];
      failure?: string;
      /** What the response cost in tokens, when the provider says. */
      usage?: ModelUsage;
    }
  /** Something went wrong that the session survives. */
  | { type: 'warning'; message: string }
  /**
   * The provider session was replaced — lost, or rolled over before its time limit — with the
   * conversation replayed: item and response ids from before are void. `gapMs`: from the loss (or
   * the start of the rollover) to the new session's confirmation.
   */
  | { type: 'resumed'; reason: 'lost' | 'rollover'; attempt: number; gapMs: number }
  /** The session is over; `expected` when we closed it. */
  | { type: 'closed'; code: ModelErrorCode; message: string; expected: boolean };

/** What a barge-in has to cut: one entry per item the caller has not fully heard. */
export interface UnheardItem {
  itemId: string;
  contentIndex: number;
  /** Heard audio (ms); 0 means nothing was heard. */
  audioEndMs: number;
}

/**
 * The model side of one call: a speech-to-speech session (OpenAI Realtime today). The adapter owns
 * the provider's rules — one response at a time, how per-response instructions combine with the
 * session's, how unheard audio is removed — so the call core states what it wants, not how.
 */
/** After `quietMs` without a frame while the caller speaks, `padMs` of silence goes to the model. */
export interface SilencePadding {
  quietMs: number;
  padMs: number;
}

export interface ModelSession {
  /** When the session was opened (monotonic ms): providers limit session length from then. */
  readonly openedAt: number;
  /** A response is running now (something the caller could be hearing). */
  readonly responding: boolean;
  /** The session is over (closed, or failed for good): a pre-warmed one in this state is replaced. */
  readonly closed: boolean;
  /**
   * Silence the model needs after the caller's line goes quiet mid-speech (a call that sends no
   * frames during silence), so its voice-activity detection can end the turn; undefined: none.
   */
  readonly speechEndPadding?: SilencePadding;
  /** Hot path: caller audio, base64 μ-law, already validated. */
  appendAudio(base64: string): void;
  /** Text from the caller's side (e.g. a keypad digit). */
  addCallerText(text: string): void;
  /**
   * Ask for a response, now or after the current one; `addendum` is said on top of the agent's
   * instructions (never instead of them). Returns the request's id.
   */
  respond(addendum?: string): string;
  sendToolResult(callId: string, output: string): void;
  /** Make the model forget what the caller did not hear (barge-in). */
  forgetUnheard(items: readonly UnheardItem[]): void;
  /**
   * The agent's tools changed (an MCP server came back mid-call): the running session is told the
   * new list at once. Optional: an engine without live updates picks the list up on its next session.
   */
  toolsChanged?(): void;
  /** Events (and a close) that came before a subscriber are replayed to it. */
  subscribe(listener: (event: ModelEvent) => void): void;
  close(): void;
}

/**
 * Opens the model side of calls (one per server; OpenAI Realtime today). `open` starts connecting at
 * once, so the webhook can pre-warm a session while Twilio opens the media stream.
 */
export interface ModelEngine {
  /** `instructions`: this call's own (an outbound call's, with its context); default: the agent's. */
  open(callSid: string, call?: { instructions?: string }): ModelSession;
}
