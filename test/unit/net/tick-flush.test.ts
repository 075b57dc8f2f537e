import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { readTextFrames } from '../../../src/net/frame-reader.js';
import { textFrame } from '../../../src/net/text-frame.js';
import { afterThisTick, readEnded, readStarted } from '../../../src/net/tick-flush.js';

/**
 * When what a call queued is written: at the end of the socket read whose handling queued it, or
 * else on the next tick; once per writer either way.
 */

/** A writer that records what it holds and what it wrote, one entry per flush. */
function writer() {
  const held: string[] = [];
  const flushes: string[][] = [];
  return {
    flushes,
    send(text: string) {
      if (held.length === 0) afterThisTick(this);
      held.push(text);
    },
    flushFrames() {
      flushes.push(held.splice(0));
    },
  };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** A socket as `ws` leaves it (one `data` listener named as `ws` names it), read here. */
function readSocket(onText: (text: string) => void) {
  const socket = new EventEmitter();
  socket.on('data', function socketOnData() {
    throw new Error('ws read a frame the frame reader should have read');
  });
  const ws = new EventEmitter();
  const direct = readTextFrames(
    ws as unknown as WebSocket,
    socket as unknown as Duplex,
    { text: onText, binary: () => {} },
    { server: true, maxBytes: 1024 },
  );
  expect(direct).toBe(true);
  return socket;
}

describe('tick-flush: when queued frames are written', () => {
  it('outside a socket read: on the next tick, in one flush', async () => {
    const out = writer();
    out.send('a');
    out.send('b');
    expect(out.flushes).toEqual([]);
    await nextTick();
    expect(out.flushes).toEqual([['a', 'b']]);
  });

  it('during a socket read: as the outermost read ends, and not again on the next tick', async () => {
    const one = writer();
    const two = writer();
    readStarted();
    one.send('a');
    readStarted(); // a read that handed its socket back to `ws`, which read the rest in it
    two.send('b');
    readEnded();
    expect([one.flushes, two.flushes]).toEqual([[], []]);
    one.send('c');
    readEnded();
    expect([one.flushes, two.flushes]).toEqual([[['a', 'c']], [['b']]]);
    await nextTick();
    expect([one.flushes, two.flushes]).toEqual([[['a', 'c']], [['b']]]);
  });

  it('the frame reader writes what a chunk’s frames queued before it returns, even when a handler throws', () => {
    const out = writer();
    const socket = readSocket((text) => {
      if (text === 'boom') throw new Error('a handler failed');
      out.send(text);
    });
    socket.emit('data', Buffer.concat([textFrame('one', true), textFrame('two', true)]));
    expect(out.flushes).toEqual([['one', 'two']]);
    expect(() =>
      socket.emit('data', Buffer.concat([textFrame('three', true), textFrame('boom', true)])),
    ).toThrow('a handler failed');
    expect(out.flushes).toEqual([['one', 'two'], ['three']]);
  });
});
