import { MULAW_BYTES_PER_MS } from '../audio/mulaw.js';
import { MarkQueue } from './mark-queue.js';

/**
 * Tracks how much of each assistant audio item the caller has actually heard.
 *
 * Twilio plays the audio we send in order and echoes each named mark when the audio queued before it
 * has finished playing (or was discarded by a `clear`). Generation runs faster than real time, so
 * "sent" says nothing about "heard": only echoed marks do. Between two echoes we interpolate with
 * the clock, bounded by the next mark's position, so a barge-in truncates within a frame of the real
 * playhead even when chunks are large.
 *
 * The clock is exact between echoes while audio is queued at the phone; it is wrong only when the
 * queue runs dry (the model fell behind real time) and the playhead waits for more. So the tracker
 * also keeps when the audio sent so far will have played out: audio sent after that moment starts
 * playing when it is sent, and the playhead is fixed there, as an echo would fix it. Each echo
 * corrects that estimate with what it says was still queued.
 *
 * Marks are therefore sparse: one follows every {@link MARK_EVERY_MS} of an item's audio and its
 * end, not every 20 ms chunk, since each mark is two more messages on the wire (ours and its echo).
 * The queue of marks is walked from its head, so an echo in order costs O(1), and a mark allocates
 * nothing but its name ({@link MarkQueue}).
 */

/**
 * Audio of one item (ms) after which a mark is due. The echoes still correct the clock twice a
 * second where the network, not the model, starves the phone (jitter the sender cannot see).
 */
export const MARK_EVERY_MS = 500;

interface ItemPlayback {
  itemId: string;
  responseId: string;
  contentIndex: number;
  /** Audio received from the model for this item (ms), sent or not. */
  receivedMs: number;
  /** Audio forwarded to Twilio (ms). */
  sentMs: number;
  /** Confirmed by an echoed mark (ms). */
  heardMs: number;
}

/** What a barge-in has to cut: one entry per assistant item the caller has not fully heard. */
export interface Interruption {
  itemId: string;
  responseId: string;
  contentIndex: number;
  /** Heard audio, clamped to what was received; 0 means nothing was heard (delete the item). */
  audioEndMs: number;
}

export class PlaybackTracker {
  readonly #items = new Map<string, ItemPlayback>();
  /** Marks sent and not yet echoed, oldest first. */
  readonly #marks = new MarkQueue<ItemPlayback>();
  /** The item audio last came for: the hot path looks it up once per item, not once per chunk. */
  #current: ItemPlayback | undefined;
  /**
   * Audio sent after the last mark: its item (undefined: none), where that mark left it (ms) and
   * where it ends now. Fields rather than an object, so a chunk allocates nothing. Items are held
   * as objects, not ids: an id string cut from a delta keeps that whole delta's text alive.
   */
  #unmarkedItem: ItemPlayback | undefined;
  #unmarkedFromMs = 0;
  #unmarkedEndMs = 0;
  #nextMark = 0;
  /** Last known playhead (undefined: none): item, position within it (ms), and when (clock ms). */
  #anchorItem: ItemPlayback | undefined;
  #anchorMs = 0;
  #anchorAt = 0;
  /** Audio sent, every item's (ms): marks record where they fall in it. */
  #streamMs = 0;
  /** When the audio sent so far will have played out (clock ms), if played from when it was sent. */
  #queueEndsAt = Number.NEGATIVE_INFINITY;

  /** Records model audio for an item (forwarded or still buffered). */
  received(responseId: string, itemId: string, contentIndex: number, bytes: number): void {
    const item = this.#item(responseId, itemId, contentIndex);
    item.receivedMs += bytes / MULAW_BYTES_PER_MS;
  }

  /**
   * Records audio forwarded to Twilio; returns the name of a mark to send right after it when one is
   * due ({@link MARK_EVERY_MS} of the item since its last mark). Audio of another item must not
   * follow unmarked audio: {@link markTail} first. Mark names use only `[a-z0-9]`, so they are safe
   * to embed in a frame unescaped.
   */
  sent(itemId: string, bytes: number, now: number): string | undefined {
    const item = this.#known(itemId);
    if (!item) throw new Error(`audio sent for item ${itemId} that was never received`);
    const unmarked = this.#unmarkedItem;
    if (unmarked !== undefined && unmarked !== item)
      throw new Error(`audio of item ${itemId} sent before item ${unmarked.itemId}'s tail was marked`);
    // nothing queued at Twilio (every mark echoed, or by the clock all of this item sent so far has
    // played): this audio starts playing now. Behind another item's unechoed end, its echo decides.
    if (!this.playing || (now >= this.#queueEndsAt && this.#playingItem === item)) {
      this.#anchor(item, item.sentMs, now);
      this.#queueEndsAt = now;
    }
    if (unmarked === undefined) {
      this.#unmarkedItem = item;
      this.#unmarkedFromMs = item.sentMs;
    }
    const ms = bytes / MULAW_BYTES_PER_MS;
    item.sentMs += ms;
    this.#streamMs += ms;
    this.#queueEndsAt += ms;
    this.#unmarkedEndMs = item.sentMs;
    if (item.sentMs - this.#unmarkedFromMs < MARK_EVERY_MS) return undefined;
    this.#unmarkedItem = undefined;
    return this.#mark(item, item.sentMs);
  }

  /** A mark for audio sent since the last one (an item's end), or undefined when there is none. */
  markTail(): string | undefined {
    const unmarked = this.#unmarkedItem;
    if (unmarked === undefined) return undefined;
    this.#unmarkedItem = undefined;
    return this.#mark(unmarked, this.#unmarkedEndMs);
  }

  /** The item whose audio was sent after its last mark, if any. */
  get unmarkedItemId(): string | undefined {
    return this.#unmarkedItem?.itemId;
  }

  /** Handles a mark echoed by Twilio. Unknown names (e.g. echoes caused by a `clear`) are ignored. */
  markEchoed(name: string, now: number): void {
    const index = this.#marks.indexOf(name);
    if (index === -1) return;
    const mark = this.#marks.at(index);
    const item = mark.item!;
    const endMs = mark.endMs;
    // what was sent after the mark is still queued: it plays out from now
    this.#queueEndsAt = now + (this.#streamMs - mark.streamMs);
    this.#marks.drop(index + 1); // the marks before it have played too
    item.heardMs = Math.max(item.heardMs, endMs);
    this.#anchor(item, endMs, now);
  }

  /** Audio is queued or playing at Twilio. */
  get playing(): boolean {
    return this.#marks.size > 0 || this.#unmarkedItem !== undefined;
  }

  /** The item currently at the playhead, if any audio is still queued. */
  get currentItemId(): string | undefined {
    return this.#playingItem?.itemId;
  }

  get #playingItem(): ItemPlayback | undefined {
    return this.#marks.size > 0 ? this.#marks.at(0).item : this.#unmarkedItem;
  }

  /**
   * Best estimate of the heard position (ms) of an item: mark-confirmed, plus the time since the
   * last playhead fix when the item is playing now. When the last echoed mark ended the previous
   * item, this item started playing at that moment. Never beyond the item's next pending mark.
   */
  heardMs(itemId: string, now: number): number {
    const item = this.#items.get(itemId);
    if (!item) return 0;
    const bound = this.#queuedEndOf(item);
    const anchor = this.#anchorItem;
    if (bound === undefined || anchor === undefined || this.#playingItem !== item) return item.heardMs;
    const from = anchor === item ? this.#anchorMs : item.heardMs;
    const estimate = from + Math.max(0, now - this.#anchorAt);
    return Math.max(item.heardMs, Math.min(estimate, bound));
  }

  /**
   * For a barge-in: every item the caller has not fully heard, in order — the one at the playhead
   * (cut where it was heard) and every item queued or still arriving behind it (heard 0 ms). Forgets
   * all queued marks (their echoes, caused by the `clear` that follows, will be ignored) and the items.
   */
  interrupt(now: number): Interruption[] {
    const cuts: Interruption[] = [];
    for (const [itemId, item] of this.#items) {
      const heard = Math.floor(Math.min(this.heardMs(itemId, now), item.receivedMs));
      if (heard >= Math.floor(item.receivedMs)) continue; // heard in full: nothing to cut
      cuts.push({ itemId, responseId: item.responseId, contentIndex: item.contentIndex, audioEndMs: heard });
    }
    this.#marks.clear();
    this.#unmarkedItem = undefined;
    this.#anchorItem = undefined;
    this.forgetItems();
    return cuts;
  }

  /**
   * The model session was replaced: its item ids are void, so nothing of theirs can be cut any more.
   * Marks stay: the audio already sent still plays, and `playing` stays true until it has.
   */
  forgetItems(): void {
    this.#items.clear();
    this.#current = undefined;
  }

  /** Where the item's next queued mark (or its unmarked audio) ends; undefined if none is queued. */
  #queuedEndOf(item: ItemPlayback): number | undefined {
    for (let i = 0; i < this.#marks.size; i++) {
      const mark = this.#marks.at(i);
      if (mark.item === item) return mark.endMs;
    }
    return this.#unmarkedItem === item ? this.#unmarkedEndMs : undefined;
  }

  #mark(item: ItemPlayback, endMs: number): string {
    const name = `m${(this.#nextMark++).toString(36)}`;
    // a mark always follows the last audio sent, so it falls where the stream ends now
    this.#marks.push(name, item, endMs, this.#streamMs);
    return name;
  }

  #anchor(item: ItemPlayback, ms: number, at: number): void {
    this.#anchorItem = item;
    this.#anchorMs = ms;
    this.#anchorAt = at;
  }

  /** The item, when audio for it was received and it was not forgotten since. */
  #known(itemId: string): ItemPlayback | undefined {
    const current = this.#current;
    if (current !== undefined && current.itemId === itemId) return current;
    const item = this.#items.get(itemId);
    if (item !== undefined) this.#current = item;
    return item;
  }

  #item(responseId: string, itemId: string, contentIndex: number): ItemPlayback {
    let item = this.#known(itemId);
    if (!item) {
      // the model speaks items in order: one fully sent with nothing left queued can no longer be cut
      for (const [id, old] of this.#items)
        if (old.sentMs >= old.receivedMs && this.#queuedEndOf(old) === undefined) this.#items.delete(id);
      item = { itemId, responseId, contentIndex, receivedMs: 0, sentMs: 0, heardMs: 0 };
      this.#items.set(itemId, item);
      this.#current = item;
    }
    return item;
  }
}
