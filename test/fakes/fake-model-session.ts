import type { ModelEvent, ModelSession, ModelUsage, UnheardItem } from '../../src/bridge/ports.js';

/**
 * The call core's `ModelSession` port in memory, provider-free: records what the core asked for
 * and lets a test play the model with the core's own events. Like the provider, it allows one
 * response at a time: `respond` while one runs is queued until `finishResponse`.
 */
export class FakeModelSession implements ModelSession {
  readonly openedAt = 0;
  readonly requests: { id: string; addendum?: string }[] = [];
  readonly toolResults: { callId: string; output: string }[] = [];
  readonly callerTexts: string[] = [];
  readonly forgotten: UnheardItem[][] = [];
  appendedBytes = 0;
  closed = false;
  #listener: ((event: ModelEvent) => void) | undefined;
  #running: string | undefined;
  #waiting: { id: string; addendum?: string }[] = [];
  #next = 0;

  get responding(): boolean {
    return this.#running !== undefined;
  }

  appendAudio(base64: string): void {
    this.appendedBytes += Buffer.from(base64, 'base64').length;
  }
  addCallerText(text: string): void {
    this.callerTexts.push(text);
  }
  respond(addendum?: string): string {
    const request = { id: `req${this.#next++}`, ...(addendum === undefined ? {} : { addendum }) };
    this.requests.push(request);
    this.#waiting.push(request);
    return request.id;
  }
  sendToolResult(callId: string, output: string): void {
    this.toolResults.push({ callId, output });
  }
  forgetUnheard(items: readonly UnheardItem[]): void {
    this.forgotten.push([...items]);
  }
  subscribe(listener: (event: ModelEvent) => void): void {
    this.#listener = listener;
  }
  close(): void {
    this.closed = true;
  }

  /** A model event, as an adapter would report it. */
  emit(event: ModelEvent): void {
    this.#listener?.(event);
  }

  /** Starts the oldest waiting request's response (or one of the model's own, with no request). */
  startResponse(responseId: string): string | undefined {
    const request = this.#waiting.shift();
    this.#running = request?.id ?? 'model';
    this.emit({ type: 'response_started', responseId });
    return request?.id;
  }

  /** Ends the running response, reporting which request it served. */
  finishResponse(
    responseId: string,
    toolCalls: { callId: string; name: string; arguments: string }[] = [],
    usage?: ModelUsage,
    /** The service failed it (status failed), with this reason. */
    failure?: string,
  ): void {
    const served = this.#running === 'model' ? undefined : this.#running;
    this.#running = undefined;
    this.emit({
      type: 'response_done',
      responseId,
      requestId: served,
      toolCalls,
      ...(usage ? { usage } : {}),
      ...(failure ? { failure } : {}),
    });
  }
}
