/**
 * Frames a socket is sent in one tick (a chunk and its mark, a burst of deltas read together) leave
 * in one write when the tick's work is done: one flush for every writer of the tick.
 *
 * This replaced `socket.cork()` with an uncork on the next tick per call: for the usual tick of one
 * frame, cork's buffered-write bookkeeping and a tick callback per call cost more than the system
 * call it saves now and then. bench:load at 200 calls, 8 rounds against the corked build in the
 * same runs: 0.97× the server's CPU per frame (median; 0.89–1.06, so small and inside this VM's
 * noise; 5 of the 8 rounds were lower).
 *
 * When the frames were queued while a socket's data was being read (frame-reader.ts), the flush
 * is that read's last step, with no `process.nextTick` of our own. (Node's tick queue still runs
 * after such a read: a socket write that completes at once schedules its own `afterWriteTick`. What
 * is saved is our tick and its callback per read.) Anywhere else (a timer, a message `ws` read) it
 * is the next tick, as before. Either way it runs before any other I/O.
 */
export interface TickFlushed {
  /** Writes what was queued this tick. */
  flushFrames(): void;
}

let due: TickFlushed[] = [];
let spare: TickFlushed[] = [];
let scheduled = false;
/** Socket reads under way (nested only when a read hands its socket back to `ws`). */
let reading = 0;

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

/**
 * Calls `writer.flushFrames()` once this tick's synchronous work is done: when the socket read
 * under way ends, or on the next tick.
 */
export function afterThisTick(writer: TickFlushed): void {
  due.push(writer);
  if (!scheduled && reading === 0) {
    scheduled = true;
    process.nextTick(flushAll);
  }
}

/** A socket read's handling begins (frame-reader.ts): what it queues is written when it ends. */
export function readStarted(): void {
  reading++;
}

/** That read's handling ended (call it in a `finally`): its frames are written now. */
export function readEnded(): void {
  if (--reading === 0 && due.length > 0) flushAll();
}
