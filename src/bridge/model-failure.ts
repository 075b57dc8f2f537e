import type { CallFailureCode, CallOutcome, ModelErrorCode, ModelEvent } from './ports.js';

/** A model session's failure, as the call's failure code. */
const MODEL_FAILURES: Record<ModelErrorCode, CallFailureCode> = {
  config_rejected: 'model_config_rejected',
  auth: 'model_auth',
  rate_limited: 'model_rate_limited',
  unreachable: 'model_unreachable',
  stalled: 'model_lost',
  closed: 'model_lost',
  session_limit: 'model_lost',
  other: 'model_lost',
};

/**
 * How a call ends when its model session closed for good: the 60-minute limit of a session that
 * could not be rolled over ends it normally; anything else fails it (the caller gets the fallback).
 */
export function outcomeOfModelClose(closed: Extract<ModelEvent, { type: 'closed' }>): CallOutcome {
  if (closed.code === 'session_limit') return { kind: 'completed', reason: closed.message };
  return { kind: 'failed', code: MODEL_FAILURES[closed.code], reason: closed.message };
}
