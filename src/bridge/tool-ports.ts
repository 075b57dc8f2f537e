import type { Logger } from '../observability/logger.js';
import type { CallOutcome } from './call-outcome.js';

/** A tool as any model is told about it: a function with a JSON Schema for its arguments. */
export interface ToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** Not for the model: the tool destroys or changes something for good (asks for confirmation). */
  destructive?: boolean;
}

/**
 * Where an agent's non-built-in tools come from: the MCP pool, or in simulations a wrapper of it
 * (recording a cassette, injecting faults) or a cassette replayed without any server.
 */
export interface ToolSource {
  definitions(): ToolDefinition[];
  /**
   * Resolves once every server has been tried once (connected, or failed within its connect
   * timeout): a call configured before then would run without tools it is promised.
   */
  ready?(): Promise<void>;
  /** Calls `listener` whenever the tool list changes; returns how to stop. */
  onChange?(listener: () => void): () => void;
  has(name: string): boolean;
  /** Never throws: a failure is a result with its code and words for the model. */
  call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult>;
}

/** Why a tool call failed: records, webhooks and metrics count failures by it. */
export type ToolErrorCode =
  /** The tool ran and reported an error (MCP `isError`). */
  | 'tool_error'
  /** The model's arguments were not a JSON object, or lacked what the tool needs. */
  | 'invalid_arguments'
  /** No tool of that name (any more). */
  | 'unknown_tool'
  /** No answer within the tool's timeout. */
  | 'timeout'
  /** Its server could not be reached, or failed while answering. */
  | 'unreachable'
  /** The call ended before the tool finished. */
  | 'cancelled'
  /** A built-in refused for the call's sake (the office is closed). */
  | 'refused'
  /** A replayed test's cassette has no answer, or a fault was injected (tests only). */
  | 'not_recorded'
  | 'injected';

/**
 * What a tool call gave: the output the model hears (`function_call_output`), and whether it
 * worked. A failure's output is `{"error": "…"}`, words the model can pass on to the caller.
 */
export type ToolResult = { ok: true; output: string } | { ok: false; code: ToolErrorCode; output: string };

/** A successful result. */
export function toolOk(output: string): ToolResult {
  return { ok: true, output };
}

/** A failed result: the model hears `message` as `{"error": message}`. */
export function toolError(code: ToolErrorCode, message: string): ToolResult {
  return { ok: false, code, output: JSON.stringify({ error: message }) };
}

/** One function call from the model. */
export interface ToolCall {
  name: string;
  /** JSON text, as the model wrote it (may be invalid). */
  arguments: string;
  callId: string;
}

/** Runs one function call for the model. Never throws: a failure is a result with its code. */
export interface ToolExecutor {
  execute(call: ToolCall, signal: AbortSignal): Promise<ToolResult>;
}

/** What built-in tools may do to the call they run in. */
export interface CallControl {
  readonly callSid: string;
  /**
   * Finish the call once the agent's current speech has been heard (mark-confirmed). When the model
   * has not spoken yet in this turn, it is first asked to say `farewell`. `before` runs first (e.g. a
   * REST transfer); if it throws, the outcome still applies.
   */
  finishAfterSpeech(request: { outcome: CallOutcome; farewell: string; before?: () => Promise<void> }): void;
  /** Caller turns so far: a confirmation counts only from a turn after the question. */
  readonly callerTurns: number;
  /**
   * While a tool runs: have the agent say this now (a filler), unless someone is speaking or an
   * answer is already under way — then it would only talk over them, and is skipped.
   */
  sayWhileWaiting(text: string): void;
  /** Keeps a message the caller left in the call's record. */
  takeMessage(message: { name: string; phone: string; message: string }): void;
  /** Plays keypad tones (μ-law) to the phone line after what the agent is saying. */
  playTones(audio: Buffer): void;
}

/** Tools offered to every call; the MCP pool and built-ins implement it. */
export interface CallTools {
  /** Function tools for the session (read when each call starts, so list changes reach new calls). */
  definitions(): ToolDefinition[];
  /** An executor bound to one call (built-ins such as end_call act on that call). */
  forCall(control: CallControl, logger: Logger): ToolExecutor;
  /** Resolves once every tool server has been tried once: sessions are configured after it. */
  ready?(): Promise<void>;
  /** Calls `listener` whenever the tool list changes; returns how to stop. */
  onChange?(listener: () => void): () => void;
}
