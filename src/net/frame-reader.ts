import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { xorMask } from './text-frame.js';
import { readEnded, readStarted } from './tick-flush.js';

/**
 * The media path's WebSocket messages read straight off the socket, the reading half of
 * text-frame.ts.
 *
 * `ws` reads every chunk through a Writable stream (its Receiver): buffering, a loop of states, a
 * sub-buffer per header, mask and payload, then two events before the listener sees the message.
 * Media frames are small, unfragmented text frames; here such a frame is checked, unmasked in place
 * and decoded in one pass, and its text goes straight to the listener. bench:load at 200 calls,
 * against the same build reading through `ws` in the same run: 0.87× the server's CPU per frame
 * (median of five rounds, 0.83–1.02).
 *
 * Only what the media path needs is read here, and `ws` keeps everything else:
 * - a text frame with FIN set, no RSV bits, the mask the peer must use, at most `maxBytes` long and
 *   valid UTF-8: read here;
 * - ping and pong frames: passed to `ws` whole, at a frame boundary (it answers pings, emits pongs);
 * - anything else (close, binary, fragments, a larger frame, a frame `ws` will refuse): the socket
 *   goes back to `ws` for good, from that frame's first byte on, with `ws`'s own `data` listener,
 *   so the close handshake, the errors (1002, 1007, 1009) and the end of reading are exactly its.
 *
 * Taking over relies on `ws` reading through one `data` listener of the socket (`socketOnData` in
 * ws 8); when that is not what the socket has, nothing is taken over and `ws` reads as usual. A test
 * checks that the `ws` we ship is read here, so an upgrade that changes this fails there.
 */

export interface TextMessageHandlers {
  /** A text message, decoded (valid UTF-8). */
  text(text: string): void;
  /** A binary message (only `ws` reads those). */
  binary(data: Buffer): void;
}

export interface ReadTextFramesOptions {
  /** This end is the server: frames from the peer must be masked (RFC 6455 §5.1). */
  server: boolean;
  /** Largest text frame read here; a larger one goes to `ws`, which applies its own `maxPayload`. */
  maxBytes: number;
}

/** Opcodes (RFC 6455 §5.2). */
const TEXT = 0x1;
const PING = 0x9;
const PONG = 0xa;
const MAX_CONTROL_PAYLOAD = 125;

/**
 * Reads `ws`'s messages for `handlers`: small text frames straight off `socket` (when `ws` can be
 * read under, see above), everything else through `ws`. Call it as soon as the WebSocket is open
 * (the server's `connection` callback, the client's `open` event), before any data can arrive.
 * Returns whether the socket is read here (never without `socket`: then `ws` reads it all).
 */
export function readTextFrames(
  ws: WebSocket,
  socket: Duplex | undefined,
  handlers: TextMessageHandlers,
  options: ReadTextFramesOptions,
): boolean {
  ws.on('message', (data, isBinary) => {
    const buffer = data as Buffer; // `binaryType` is 'nodebuffer' (the default), never changed here
    if (isBinary) handlers.binary(buffer);
    else handlers.text(buffer.toString());
  });
  if (!socket) return false;
  const listeners = socket.listeners('data');
  const wsOnData = listeners[0] as ((chunk: Buffer) => void) | undefined;
  if (listeners.length !== 1 || wsOnData?.name !== 'socketOnData') return false;
  const reader = new FrameReader(socket, wsOnData, handlers.text, options);
  socket.removeListener('data', wsOnData);
  socket.on('data', reader.onData);
  return true;
}

class FrameReader {
  readonly #socket: Duplex;
  readonly #wsOnData: (chunk: Buffer) => void;
  readonly #onText: (text: string) => void;
  readonly #server: boolean;
  readonly #maxBytes: number;
  /** The start of a frame not yet complete, in the chunks it came in. */
  #carry: Buffer[] = [];
  #carryBytes = 0;
  /** That frame's whole length, once its header is in (0: not yet). */
  #carryNeeds = 0;

  constructor(
    socket: Duplex,
    wsOnData: (chunk: Buffer) => void,
    onText: (text: string) => void,
    options: ReadTextFramesOptions,
  ) {
    this.#socket = socket;
    this.#wsOnData = wsOnData;
    this.#onText = onText;
    this.#server = options.server;
    this.#maxBytes = options.maxBytes;
  }

  readonly onData = (chunk: Buffer): void => {
    readStarted();
    try {
      this.#read(chunk);
    } finally {
      readEnded(); // what the frames' handlers queued is written now (tick-flush.ts)
    }
  };

  #read(chunk: Buffer): void {
    let data = chunk;
    if (this.#carryBytes > 0) {
      this.#carry.push(chunk);
      this.#carryBytes += chunk.length;
      // a large frame arriving in many chunks is joined once, when it is all here
      if (this.#carryBytes < this.#carryNeeds) return;
      data = Buffer.concat(this.#carry, this.#carryBytes);
      this.#carry = [];
      this.#carryBytes = 0;
      this.#carryNeeds = 0;
    }
    let at = 0;
    while (at < data.length) {
      const next = this.#frame(data, at);
      if (next === HANDED_BACK) return;
      if (next === INCOMPLETE) break;
      at = next;
    }
    if (at < data.length) {
      // copied when it is a small part of a large chunk: a view would keep the whole chunk alive
      const rest = data.subarray(at);
      this.#carry.push(rest.length * 4 < data.length ? Buffer.from(rest) : rest);
      this.#carryBytes = rest.length;
    }
  }

  /**
   * Reads the frame at `at`: where the next one starts, or that it is not complete yet, or that the
   * socket went back to `ws`.
   */
  #frame(data: Buffer, at: number): number {
    const available = data.length - at;
    if (available < 2) return INCOMPLETE;
    const b0 = data[at]!;
    const b1 = data[at + 1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (available < 4) return INCOMPLETE;
      length = data.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      if (available < 10) return INCOMPLETE;
      // 4 GiB or more: far beyond what is read here
      if (data.readUInt32BE(at + 2) !== 0) return this.#handBack(data, at);
      length = data.readUInt32BE(at + 6);
      header = 10;
    }
    if (masked) header += 4;
    const opcode = b0 & 0x0f;
    // FIN set, RSV clear, and the mask the peer must use; anything else is `ws`'s to read or refuse
    if ((b0 & 0xf0) !== 0x80 || masked !== this.#server) return this.#handBack(data, at);
    const isText = opcode === TEXT && length <= this.#maxBytes;
    const isPing = (opcode === PING || opcode === PONG) && length <= MAX_CONTROL_PAYLOAD;
    if (!isText && !isPing) return this.#handBack(data, at);
    const end = at + header + length;
    if (end > data.length) {
      this.#carryNeeds = end - at;
      return INCOMPLETE;
    }
    if (isPing) {
      this.#wsOnData.call(this.#socket, data.subarray(at, end));
      return end;
    }
    const start = at + header;
    if (masked) xorMask(data, start, end, start - 4);
    const text = data.toString('utf8', start, end);
    // the decoder turns every invalid sequence into U+FFFD: only then is the check needed
    if (text.includes('\uFFFD') && !isUtf8(data.subarray(start, end))) {
      if (masked) xorMask(data, start, end, start - 4); // as it came: `ws` unmasks it, and refuses it
      return this.#handBack(data, at);
    }
    this.#onText(text);
    return end;
  }

  /** From the frame at `at` on, the socket is read by `ws` alone. */
  #handBack(data: Buffer, at: number): number {
    this.#socket.removeListener('data', this.onData);
    this.#socket.on('data', this.#wsOnData);
    this.#wsOnData.call(this.#socket, at === 0 ? data : data.subarray(at));
    return HANDED_BACK;
  }
}

const INCOMPLETE = -1;
const HANDED_BACK = -2;
