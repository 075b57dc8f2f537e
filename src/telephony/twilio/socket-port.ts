import WebSocket from 'ws';
import type { MediaStreamPort } from '../../bridge/ports.js';
import { type FrameSocket, TextFrameSender } from '../../net/text-frame.js';
import type { Logger } from '../../observability/logger.js';
import { clearMessage, markMessage, mediaMessage, mediaMessageParts } from './media-messages.js';

/**
 * Past this much unsent data (about 5 s of audio) Twilio is not reading: agent audio is dropped
 * instead of buffered without bound, until the buffer drains.
 */
export const MAX_BUFFERED_BYTES = 64 * 1024;

/** What the port needs of a socket (the `ws` WebSocket; a stub in unit tests). */
export type MediaSocket = Pick<WebSocket, 'readyState' | 'bufferedAmount' | 'send' | 'close'>;
/** The TCP socket under the WebSocket: batched writes, and frames written straight to it. */
export type TcpSocket = FrameSocket & { cork(): void; uncork(): void; readonly writableLength: number };

/** The Twilio side of one call, as the bridge sees it. */
export class TwilioSocketPort implements MediaStreamPort {
  readonly #ws: MediaSocket;
  readonly #streamSid: string;
  readonly #log: Logger;
  /** Frames dropped in the current stall (0: not stalled). */
  #dropped = 0;
  /** The TCP socket under the WebSocket: what is sent in one tick leaves in one write. */
  readonly #tcp: TcpSocket | undefined;
  /**
   * Media and marks as single frames on that socket (see text-frame.ts), and a media message's text
   * around its payload, encoded once.
   */
  readonly #frames: { sender: TextFrameSender; mediaHead: Buffer; mediaTail: Buffer } | undefined;
  #corked = false;
  readonly #uncork = () => {
    this.#corked = false;
    this.#tcp?.uncork();
  };

  constructor(ws: MediaSocket, streamSid: string, logger: Logger, tcp?: TcpSocket) {
    this.#ws = ws;
    this.#streamSid = streamSid;
    this.#log = logger;
    this.#tcp = tcp;
    if (tcp) {
      const { head, tail } = mediaMessageParts(streamSid);
      this.#frames = {
        sender: new TextFrameSender(ws, tcp, false),
        mediaHead: Buffer.from(head, 'latin1'),
        mediaTail: Buffer.from(tail, 'latin1'),
      };
    }
  }

  /**
   * Bytes written and not yet sent. With the TCP socket that is its own count: `ws`'s
   * `bufferedAmount` adds what its sender holds back, which is nothing here (see text-frame.ts), and
   * reads three objects for it on every chunk.
   */
  get #buffered(): number {
    return this.#tcp ? this.#tcp.writableLength : this.#ws.bufferedAmount;
  }

  /** Holds this tick's frames (a chunk and its mark, deltas read together) for one system call. */
  #batch(): void {
    if (this.#corked || !this.#tcp) return;
    this.#corked = true;
    this.#tcp.cork();
    process.nextTick(this.#uncork);
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
    this.#batch();
    const frames = this.#frames;
    if (frames) frames.sender.sendWrapped(frames.mediaHead, payload, frames.mediaTail);
    else this.#ws.send(mediaMessage(this.#streamSid, payload));
    return true;
  }

  sendMark(name: string): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    this.#batch();
    this.#send(markMessage(this.#streamSid, name));
  }

  #send(text: string): void {
    if (this.#frames) this.#frames.sender.send(text);
    else this.#ws.send(text);
  }

  sendClear(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(clearMessage(this.#streamSid));
  }

  close(): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(1000, 'call ended');
    }
  }
}
