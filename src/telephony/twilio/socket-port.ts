import WebSocket from 'ws';
import type { MediaStreamPort } from '../../bridge/ports.js';
import { type FrameSocket, textFrame, wrappedTextFrame } from '../../net/text-frame.js';
import { afterThisTick } from '../../net/tick-flush.js';
import type { Logger } from '../../observability/logger.js';
import { clearMessage, markMessage, mediaMessage, mediaMessageParts } from './media-messages.js';

/**
 * Past this much unsent data (about 5 s of audio) Twilio is not reading: agent audio is dropped
 * instead of buffered without bound, until the buffer drains.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024;

/** What the port needs of a socket (the `ws` WebSocket; a stub in unit tests). */
export type MediaSocket = Pick<WebSocket, 'readyState' | 'bufferedAmount' | 'send' | 'close'>;
/** The TCP socket under the WebSocket: frames are written straight to it (see text-frame.ts). */
export type TcpSocket = FrameSocket & { readonly writableLength: number };

/** The Twilio side of one call, as the bridge sees it. */
export class TwilioSocketPort implements MediaStreamPort {
  readonly #ws: MediaSocket;
  readonly #streamSid: string;
  readonly #log: Logger;
  /** Frames dropped in the current stall (0: not stalled). */
  #dropped = 0;
  /**
   * The TCP socket under the WebSocket, which media and marks go to as single frames (what is sent
   * in one tick leaves in one write, tick-flush.ts). Without it (unit tests' stubs) they go through
   * `ws.send`.
   */
  readonly #tcp: TcpSocket | undefined;
  /** A media message's text around its payload, encoded once (fields, not an object: one less read per frame). */
  readonly #mediaHead: Buffer;
  readonly #mediaTail: Buffer;
  /** The frames of this tick, oldest first (`#rest` only when there is more than one). */
  #first: Buffer | undefined;
  #rest: Buffer[] | undefined;

  constructor(ws: MediaSocket, streamSid: string, logger: Logger, tcp?: TcpSocket) {
    this.#ws = ws;
    this.#streamSid = streamSid;
    this.#log = logger;
    this.#tcp = tcp;
    const { head, tail } = mediaMessageParts(streamSid);
    this.#mediaHead = Buffer.from(head, 'latin1');
    this.#mediaTail = Buffer.from(tail, 'latin1');
  }

  /**
   * Bytes written and not yet sent. With the TCP socket that is its own count: `ws`'s
   * `bufferedAmount` adds what its sender holds back, which is nothing here (see text-frame.ts), and
   * reads three objects for it on every chunk.
   */
  get #buffered(): number {
    return this.#tcp ? this.#tcp.writableLength : this.#ws.bufferedAmount;
  }

  /** Queues a frame for the end of this tick. */
  #queue(frame: Buffer): void {
    if (this.#first === undefined) {
      this.#first = frame;
      afterThisTick(this);
    } else if (this.#rest === undefined) this.#rest = [frame];
    else this.#rest.push(frame);
  }

  /**
   * Writes this tick's frames in one system call (tick-flush.ts calls it). Nothing is written once
   * the WebSocket is closing: no frame may follow its close frame.
   */
  flushFrames(): void {
    const first = this.#first;
    const tcp = this.#tcp;
    if (first === undefined || tcp === undefined) return;
    const rest = this.#rest;
    this.#first = undefined;
    this.#rest = undefined;
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    tcp.write(rest === undefined ? first : Buffer.concat([first, ...rest]));
  }

  sendMedia(payload: string): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    const buffered = this.#buffered;
    if (buffered > MAX_BUFFERED_BYTES) {
      if (this.#dropped++ === 0)
        this.#log.warn({ bufferedBytes: buffered }, 'Twilio is not reading: dropping agent audio');
      return false;
    }
    if (this.#dropped > 0) {
      this.#log.info({ droppedFrames: this.#dropped }, 'Twilio is reading again: agent audio resumes');
      this.#dropped = 0;
    }
    if (this.#tcp) this.#queue(wrappedTextFrame(this.#mediaHead, payload, this.#mediaTail, false));
    else this.#ws.send(mediaMessage(this.#streamSid, payload));
    return true;
  }

  sendMark(name: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    const text = markMessage(this.#streamSid, name);
    if (this.#tcp) this.#queue(textFrame(text, false));
    else this.#ws.send(text);
  }

  sendClear(): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.flushFrames(); // the clear must follow the audio it clears
    this.#ws.send(clearMessage(this.#streamSid));
  }

  close(): void {
    this.flushFrames();
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(1000, 'call ended');
    }
  }
}
