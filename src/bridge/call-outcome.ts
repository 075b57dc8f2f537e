/**
 * Why a call failed, for records and metrics: the phone side broke the protocol or went away, the
 * model session failed (with its kind), a bug in voice-agent, the server shut down, the stream
 * never came, or the process that held it stopped answering (another one answered Twilio).
 */
export type CallFailureCode =
  | 'phone_protocol'
  | 'phone_lost'
  | 'model_config_rejected'
  | 'model_auth'
  | 'model_rate_limited'
  | 'model_unreachable'
  | 'model_lost'
  | 'internal'
  | 'shutdown'
  | 'stream_never_started'
  | 'unknown_call'
  | 'instance_lost';

/** How a call ended, which decides what the `<Connect action>` URL answers. */
export type CallOutcome =
  | { kind: 'completed'; reason: string }
  | { kind: 'failed'; code: CallFailureCode; reason: string }
  | {
      kind: 'transfer';
      to: string;
      reason: string;
      /** Said to whoever answers, before the caller is connected (a warm transfer). */
      whisper?: string;
      /** How long the transfer rings before the caller is offered a message (s). */
      ringTimeoutS?: number;
    };
