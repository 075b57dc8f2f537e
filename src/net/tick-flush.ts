/**
 * Frames a socket is sent in one tick (a chunk and its mark, a burst of deltas read together) leave
 * in one write when the tick's work is done: one `process.nextTick` for every writer of the tick.
 *
 * This replaced `socket.cork()` with an uncork on the next tick per call: for the usual tick of one
 * frame, cork's buffered-write bookkeeping and a tick callback per call cost more than the system
 * call it saves now and then. bench:load at 200 calls, 8 rounds against the corked build in the
 * same runs: 0.97× the server's CPU per frame (median; 0.89–1.06, so small and inside this VM's
 * noise; 5 of the 8 rounds were lower).
 */
export interface TickFlushed {
  /** Writes what was queued this tick. */
  flushFrames(): void;
}

let due: TickFlushed[] = [];
let spare: TickFlushed[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const writers = due;
  due = spare;
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < writers.length; i++) {
    // one writer's failure must not leave the others' frames unsent
    try {
      writers[i]!.flushFrames();
    } catch (error) {
      failure ??= { error };
    }
  }
  writers.length = 0;
  spare = writers;
  if (failure) throw failure.error;
}

/** Calls `writer.flushFrames()` once this tick's synchronous work is done. */
export function afterThisTick(writer: TickFlushed): void {
  due.push(writer);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}
