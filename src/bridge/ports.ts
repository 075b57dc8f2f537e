/**
 * The small interfaces the bridge talks to (house rule 1). Implementations live with their peer:
 * the Twilio WebSocket adapter in server/, the Realtime socket in realtime/openai/, tools in tools/.
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

export type { CallOutcome } from '../telephony/call-outcome.js';
export type { CallControl, ToolExecutor } from '../tools/types.js';

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
  output: string;
  atMs: number;
  durationMs: number;
}
