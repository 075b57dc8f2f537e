import type { CallEvent } from '../../bridge/call-events.js';
import type { CallOutcome, ToolCallRecord, TranscriptEntry } from '../../bridge/ports.js';

/**
 * One call as its event stream tells it: the transcript (an agent line the caller cut off carries
 * what they heard, whichever came first, the line or the barge-in), the tool calls and the outcome.
 * Built from events only, never from a live session.
 */
export class CallLog {
  readonly transcript: TranscriptEntry[] = [];
  readonly toolCalls: ToolCallRecord[] = [];
  outcome: CallOutcome | undefined;
  readonly #heard = new Map<string, number>();
  readonly #agentLines = new Map<string, TranscriptEntry>();

  add(event: CallEvent): void {
    switch (event.type) {
      case 'transcript': {
        const entry: TranscriptEntry = { role: event.role, text: event.text, atMs: event.atMs };
        const heardMs = event.itemId === undefined ? undefined : this.#heard.get(event.itemId);
        if (heardMs !== undefined) Object.assign(entry, { interrupted: true, heardMs });
        if (event.itemId !== undefined) this.#agentLines.set(event.itemId, entry);
        this.transcript.push(entry);
        return;
      }
      case 'barge_in':
        for (const { itemId, heardMs } of event.cut) {
          this.#heard.set(itemId, heardMs);
          const line = this.#agentLines.get(itemId);
          if (line) Object.assign(line, { interrupted: true, heardMs });
        }
        return;
      case 'tool_call':
        this.toolCalls.push({
          name: event.name,
          callId: event.callId,
          arguments: event.arguments,
          result: event.ok
            ? { ok: true, output: event.output }
            : { ok: false, code: event.code ?? 'tool_error', output: event.output },
          atMs: event.atMs - event.durationMs,
          durationMs: event.durationMs,
        });
        return;
      case 'ended':
        this.outcome = event.outcome;
        return;
      default:
        return;
    }
  }
}
