/** A mark sent to Twilio and not yet echoed. */
export interface QueuedMark<Item> {
  name: string;
  item: Item | undefined;
  /** Item audio (ms) that will have played when this mark comes back. */
  endMs: number;
  /** All audio sent before this mark, every item's (ms): where it falls in what the phone plays. */
  streamMs: number;
}

/**
 * Marks sent and not yet echoed, oldest first: a ring of slots reused for every mark, so a mark
 * allocates nothing but its name, and an echoed mark lets go of its name and item at once.
 *
 * Why not an array of fresh objects: with audio queued ahead at the phone a mark lives a few hundred
 * milliseconds, and echoed ones waited for the array's amortised compaction (64 marks, seconds).
 * Both outlive V8's young generation, so every mark was promoted to the old one and died there:
 * about 1 MB/s at 200 calls, the garbage behind the full collections that paused every call.
 */
export class MarkQueue<Item> {
  /** Capacity is a power of two: positions wrap with a mask. */
  #slots: QueuedMark<Item>[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The mark `index` places after the oldest (0 ≤ index < size). */
  at(index: number): QueuedMark<Item> {
    return this.#slots[(this.#head + index) & (this.#slots.length - 1)]!;
  }

  /** Where the oldest mark with this name is, or -1. */
  indexOf(name: string): number {
    for (let i = 0; i < this.#size; i++) if (this.at(i).name === name) return i;
    return -1;
  }

  push(name: string, item: Item, endMs: number, streamMs: number): void {
    if (this.#size === this.#slots.length) this.#grow();
    const slot = this.at(this.#size);
    slot.name = name;
    slot.item = item;
    slot.endMs = endMs;
    slot.streamMs = streamMs;
    this.#size++;
  }

  /** Forgets the oldest `count` marks. */
  drop(count: number): void {
    for (let i = 0; i < count; i++) {
      const slot = this.at(i);
      slot.name = '';
      slot.item = undefined;
    }
    this.#head = (this.#head + count) & (this.#slots.length - 1);
    this.#size -= count;
  }

  clear(): void {
    this.drop(this.#size);
  }

  #grow(): void {
    const slots: QueuedMark<Item>[] = [];
    for (let i = 0; i < this.#size; i++) slots.push(this.at(i));
    const capacity = Math.max(16, this.#slots.length * 2);
    while (slots.length < capacity) slots.push({ name: '', item: undefined, endMs: 0, streamMs: 0 });
    this.#slots = slots;
    this.#head = 0;
  }
}
