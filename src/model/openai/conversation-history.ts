import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import type { ModelToolCall, UnheardItem } from '../../bridge/ports.js';

type Entry =
  | { kind: 'user'; text: string }
  | { kind: 'assistant'; itemId: string; text: string }
  | { kind: 'call'; call: ModelToolCall }
  | { kind: 'output'; callId: string; output: string };

/** Replaying more than this many items costs context for little: the oldest are left out. */
export const MAX_REPLAYED_ITEMS = 120;

/**
 * What was said and done on a call, in a form a new Realtime session can be given again: a new
 * socket is a new, empty conversation (there is no resume), and `conversation.item.create` takes text
 * and function items only: an agent turn is replayed as `output_text`, never as audio. Agent turns
 * the caller cut off are replayed as cut off, so the model does not believe it said what nobody heard.
 */
export class ConversationHistory {
  #entries: Entry[] = [];
  /** Agent items cut by a barge-in, with the audio heard (ms), for transcripts that arrive later. */
  readonly #cut = new Map<string, number>();

  callerSaid(text: string): void {
    if (text) this.#entries.push({ kind: 'user', text });
  }

  agentSaid(itemId: string, text: string): void {
    if (!text) return;
    const heard = this.#cut.get(itemId);
    if (heard === 0) return; // deleted: the caller heard none of it
    this.#entries.push({ kind: 'assistant', itemId, text: heard === undefined ? text : cutOff(text, heard) });
  }

  toolCall(call: ModelToolCall): void {
    this.#entries.push({ kind: 'call', call });
  }

  toolOutput(callId: string, output: string): void {
    this.#entries.push({ kind: 'output', callId, output });
  }

  /** A barge-in: what was heard of each item (0: none of it). */
  forget(items: readonly UnheardItem[]): void {
    for (const item of items) {
      this.#cut.set(item.itemId, item.audioEndMs);
      const at = this.#entries.findIndex((e) => e.kind === 'assistant' && e.itemId === item.itemId);
      const entry = this.#entries[at];
      if (entry?.kind !== 'assistant') continue;
      if (item.audioEndMs === 0) this.#entries.splice(at, 1);
      else entry.text = cutOff(entry.text, item.audioEndMs);
    }
  }

  /** The `conversation.item.create` events that rebuild this conversation in a new session. */
  replay(): RealtimeClientEvent[] {
    let entries = this.#entries.slice(-MAX_REPLAYED_ITEMS);
    // an output whose call was left out would be refused ("no tool call found")
    const calls = new Set(entries.flatMap((e) => (e.kind === 'call' ? [e.call.callId] : [])));
    entries = entries.filter((e) => e.kind !== 'output' || calls.has(e.callId));
    return entries.map((e): RealtimeClientEvent => {
      switch (e.kind) {
        case 'user':
          return {
            type: 'conversation.item.create',
            item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: e.text }] },
          };
        case 'assistant':
          return {
            type: 'conversation.item.create',
            item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: e.text }] },
          };
        case 'call':
          return {
            type: 'conversation.item.create',
            item: {
              type: 'function_call',
              call_id: e.call.callId,
              name: e.call.name,
              arguments: e.call.arguments,
            },
          };
        default:
          return {
            type: 'conversation.item.create',
            item: { type: 'function_call_output', call_id: e.callId, output: e.output },
          };
      }
    });
  }
}

function cutOff(text: string, heardMs: number): string {
  return `${text} [the caller cut in after about ${Math.max(1, Math.round(heardMs / 1000))} s and did not hear the rest]`;
}
