import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import type { TranscriptEntry } from './ports.js';

/**
 * What was said on one call, in order. An agent line cut off by the caller is marked with how much
 * of it was heard — whether its transcript arrived before the barge-in or after. Each line is logged,
 * redacted unless the agent opts in.
 */
export class CallTranscript {
  readonly entries: TranscriptEntry[] = [];
  readonly #log: Logger;
  readonly #showText: boolean;
  /** Items cut off by a barge-in, with what was heard. */
  readonly #cut = new Map<string, number>();
  /** Agent lines by item, to mark them when the caller cuts in after they arrived. */
  readonly #agentLines = new Map<string, TranscriptEntry>();

  constructor(logger: Logger, showText: boolean) {
    this.#log = logger;
    this.#showText = showText;
  }

  caller(text: string, atMs: number): void {
    this.#add({ role: 'caller', text, atMs });
  }

  agent(itemId: string, text: string, atMs: number): void {
    const heardMs = this.#cut.get(itemId);
    const entry = this.#add({
      role: 'agent',
      text,
      atMs,
      ...(heardMs === undefined ? {} : { interrupted: true, heardMs }),
    });
    if (entry) this.#agentLines.set(itemId, entry);
  }

  /** The caller cut in: only `heardMs` of this item's audio was heard. */
  interrupted(itemId: string, heardMs: number): void {
    this.#cut.set(itemId, heardMs);
    const line = this.#agentLines.get(itemId);
    if (line) Object.assign(line, { interrupted: true, heardMs });
  }

  #add(entry: TranscriptEntry): TranscriptEntry | undefined {
    if (!entry.text) return undefined;
    this.entries.push(entry);
    this.#log.info(
      { role: entry.role, text: redactText(entry.text, this.#showText) },
      entry.role === 'caller' ? 'caller said' : 'agent said',
    );
    return entry;
  }
}
