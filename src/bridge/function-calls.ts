import type { ModelToolCall, ToolCallRecord, ToolExecutor } from './ports.js';
import { type ToolResult, toolError } from './tool-ports.js';

/**
 * The function-call loop of one call (Realtime guide §4):
 * - the model session reports only complete calls (a cancelled response's are left out);
 * - calls of one response run concurrently, each exactly once per `call_id`;
 * - when the asking response is done and all its calls have settled (each output sent once, as soon
 *   as it exists), the owner decides what follows: normally a single `response.create`.
 */
export interface FunctionCallLoopOptions {
  tools: ToolExecutor;
  /** Gives the model a call's output. */
  sendOutput(callId: string, output: string): void;
  /** Every output of a finished response has been sent: decide what comes next (usually one response). */
  outputsSent(): void;
  signal: AbortSignal;
  now(): number;
  onRecord(record: ToolCallRecord): void;
  /** A call starts running (for the event stream). */
  onStarted?(call: ModelToolCall): void;
  /** A bug in the loop's own follow-up (not in a tool): the owner ends the call. */
  onFault(what: string, error: unknown): void;
}

interface Batch {
  calls: Map<string, Promise<void>>;
  responseDone: boolean;
}

export class FunctionCallLoop {
  readonly #options: FunctionCallLoopOptions;
  readonly #seen = new Set<string>();
  readonly #batches = new Map<string, Batch>();

  constructor(options: FunctionCallLoopOptions) {
    this.#options = options;
  }

  /** A complete function call: start it right away. */
  itemDone(responseId: string, item: ModelToolCall): void {
    if (this.#seen.has(item.callId)) return;
    this.#seen.add(item.callId);
    const batch = this.#batch(responseId);
    batch.calls.set(item.callId, this.#run(item));
  }

  /** The response is done: run any call not seen yet, then answer once everything settled. */
  responseDone(responseId: string, calls: readonly ModelToolCall[]): void {
    for (const call of calls) this.itemDone(responseId, call);
    const batch = this.#batches.get(responseId);
    if (!batch) return;
    batch.responseDone = true;
    // #run never rejects, so this settles once every output is sent; a throw in what follows is a
    // bug of this call's, reported to the owner instead of becoming an unhandled rejection
    void Promise.all(batch.calls.values())
      .then(() => {
        this.#batches.delete(responseId);
        if (!this.#options.signal.aborted) this.#options.outputsSent();
      })
      .catch((error: unknown) => this.#options.onFault('the follow-up to tool outputs', error));
  }

  /** Calls still running. */
  get pending(): number {
    let n = 0;
    for (const b of this.#batches.values()) n += b.calls.size;
    return n;
  }

  #batch(responseId: string): Batch {
    let batch = this.#batches.get(responseId);
    if (!batch) {
      batch = { calls: new Map(), responseDone: false };
      this.#batches.set(responseId, batch);
    }
    return batch;
  }

  async #run(item: ModelToolCall): Promise<void> {
    const started = this.#options.now();
    this.#options.onStarted?.(item);
    let result: ToolResult;
    try {
      result = await this.#options.tools.execute(
        { name: item.name, arguments: item.arguments, callId: item.callId },
        this.#options.signal,
      );
    } catch (error) {
      // executors promise never to throw; one that does still owes the model an answer
      result = toolError(
        'tool_error',
        `The tool "${item.name}" failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (this.#options.signal.aborted) return;
    // the output is sent as soon as it exists: a caller who barges in still leaves no dangling call
    try {
      this.#options.sendOutput(item.callId, result.output);
    } catch (error) {
      this.#options.onFault(`sending the output of ${item.name}`, error);
      return;
    }
    this.#options.onRecord({
      name: item.name,
      callId: item.callId,
      arguments: item.arguments,
      result,
      atMs: started,
      durationMs: this.#options.now() - started,
    });
  }
}

/** Used when an agent has no tools: the model hears that the tool does not exist. */
export const NO_TOOLS: ToolExecutor = {
  async execute(call) {
    return toolError('unknown_tool', `The tool "${call.name}" is not available.`);
  },
};
