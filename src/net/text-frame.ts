import { randomFillSync } from 'node:crypto';
import WebSocket from 'ws';

/**
 * The media path's WebSocket messages as single frames, written straight to the socket.
 *
 * `ws.send` builds each message with two options objects, a copy of the text in a new buffer, a
 * header in another, and a corked two-chunk write. Here a frame is one buffer (header, mask, text)
 * and one write. bench:load at 200 calls, against the same build using `ws.send` in the same run:
 * 0.94× the server's CPU per frame (median of five rounds, 0.91–1.05).
 *
 * Writing under `ws` is safe because its sender never holds a message back when there is no
 * compression and no Blob to read (`perMessageDeflate: false` on both of our sockets; we send only
 * strings): everything either of us writes goes to the socket at once, in call order. `ws` still
 * does the handshake, pings and the close, and nothing is written once it is closing. (The Twilio
 * port holds a tick's frames until the tick ends, tick-flush.ts, and writes them before anything it
 * sends through `ws` itself: a `clear`, the close.) Reading is the other half, in frame-reader.ts.
 */

/** Masks for client frames (RFC 6455 §5.3: fresh and unpredictable), drawn from a random pool. */
const MASKS = Buffer.allocUnsafe(8192);
let nextMask = MASKS.length;

/**
 * One unfragmented text frame. `text` must be ASCII (base64 and our own ids and names): its length
 * is its length in bytes. `masked`: a client's frame.
 */
export function textFrame(text: string, masked: boolean): Buffer {
  const frame = frameFor(text.length, masked);
  const start = frame.length - text.length;
  frame.write(text, start, 'latin1');
  if (masked) mask(frame, start);
  return frame;
}

/**
 * The {@link textFrame} of `head + body + tail`, without building that string: a media message is a
 * fixed head and tail (ASCII, encoded once) around its base64 payload.
 */
export function wrappedTextFrame(head: Buffer, body: string, tail: Buffer, masked: boolean): Buffer {
  const frame = frameFor(head.length + body.length + tail.length, masked);
  const start = frame.length - head.length - body.length - tail.length;
  frame.set(head, start);
  frame.write(body, start + head.length, 'latin1');
  frame.set(tail, frame.length - tail.length);
  if (masked) mask(frame, start);
  return frame;
}

/** A frame's buffer with its header written (the mask comes with the payload), payload to fill. */
function frameFor(length: number, masked: boolean): Buffer {
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + (masked ? 4 : 0) + length);
  frame[0] = 0x81; // FIN, text
  const maskBit = masked ? 0x80 : 0;
  if (lengthBytes === 0) frame[1] = maskBit | length;
  else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = maskBit | 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  return frame;
}

function mask(frame: Buffer, start: number): void {
  if (nextMask === MASKS.length) {
    randomFillSync(MASKS);
    nextMask = 0;
  }
  frame[start - 4] = MASKS[nextMask]!;
  frame[start - 3] = MASKS[nextMask + 1]!;
  frame[start - 2] = MASKS[nextMask + 2]!;
  frame[start - 1] = MASKS[nextMask + 3]!;
  nextMask += 4;
  xorMask(frame, start, frame.length, start - 4);
}

/**
 * XORs `buffer[start…end)` with the 4-byte mask at `buffer[maskAt]` (RFC 6455 §5.3), in place: masks
 * a frame, or unmasks one.
 */
export function xorMask(buffer: Buffer, start: number, end: number, maskAt: number): void {
  const m0 = buffer[maskAt]!;
  const m1 = buffer[maskAt + 1]!;
  const m2 = buffer[maskAt + 2]!;
  const m3 = buffer[maskAt + 3]!;
  let i = start;
  for (; i + 3 < end; i += 4) {
    buffer[i] = buffer[i]! ^ m0;
    buffer[i + 1] = buffer[i + 1]! ^ m1;
    buffer[i + 2] = buffer[i + 2]! ^ m2;
    buffer[i + 3] = buffer[i + 3]! ^ m3;
  }
  for (let k = 0; i < end; i++, k++) buffer[i] = buffer[i]! ^ buffer[maskAt + k]!;
}

/** The socket under a `ws` WebSocket, as far as sending frames needs it. */
export interface FrameSocket {
  write(frame: Buffer): unknown;
}

/** Sends a `ws` WebSocket's text messages as single frames on its socket. */
export class TextFrameSender {
  readonly #ws: Pick<WebSocket, 'readyState'>;
  readonly #socket: FrameSocket;
  readonly #masked: boolean;

  constructor(ws: Pick<WebSocket, 'readyState'>, socket: FrameSocket, masked: boolean) {
    this.#ws = ws;
    this.#socket = socket;
    this.#masked = masked;
  }

  /**
   * Sends `head + body + tail` as one {@link wrappedTextFrame}. False (nothing sent) unless the
   * WebSocket is open.
   */
  sendWrapped(head: Buffer, body: string, tail: Buffer): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#socket.write(wrappedTextFrame(head, body, tail, this.#masked));
    return true;
  }
}
