import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { readTextFrames } from '../../../src/net/frame-reader.js';
import { textFrame } from '../../../src/net/text-frame.js';

/**
 * The direct reader against `ws` itself: the same bytes, split the same ways, go to a `ws` server
 * that reads them under `ws` (readTextFrames) and to one where `ws` reads alone; what the listener
 * gets, the pongs, and how the connection ends must be the same.
 */

const MAX_BYTES = 64 * 1024;

interface Frame {
  opcode: number;
  payload: Buffer | string;
  fin?: boolean;
  rsv?: number;
  /** Default: as a client must (masked). */
  masked?: boolean;
  /** Sent as it is, not masked (e.g. invalid UTF-8, which a string cannot carry). */
  raw?: boolean;
}

/** One frame's bytes, any way the protocol allows or forbids. */
function frame({ opcode, payload, fin = true, rsv = 0, masked = true }: Frame): Buffer {
  const body = Buffer.isBuffer(payload) ? Buffer.from(payload) : Buffer.from(payload, 'utf8');
  const length = body.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (masked ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(length, 2);
  if (lengthBytes === 8) head.writeUInt32BE(length, 6);
  if (masked) {
    const mask = randomBytes(4);
    mask.copy(head, head.length - 4);
    for (let i = 0; i < length; i++) body[i] = body[i]! ^ mask[i & 3]!;
  }
  return Buffer.concat([head, body]);
}

const text = (payload: string | Buffer, extra: Partial<Frame> = {}) =>
  frame({ opcode: 1, payload, ...extra });

interface Heard {
  messages: string[];
  pongs: string[];
  /** The close code the server sent (1005: none), or 'open' if it never closed. */
  closed: number | 'open';
  /** The server still read under `ws` at the end (false: `ws` had the socket back, or never gave it). */
  direct: boolean;
}

const servers: WebSocketServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A `ws` server, read directly or not, and a raw client that writes `bytes` in the given pieces. */
async function deliver(
  pieces: Buffer[],
  direct: boolean,
  beforeTheEnd?: (heard: Heard) => Promise<void>,
): Promise<Heard> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    maxPayload: MAX_BYTES,
    perMessageDeflate: false,
  });
  servers.push(wss);
  await once(wss, 'listening');
  const heard: Heard = { messages: [], pongs: [], closed: 'open', direct: false };
  let tcp: Socket | undefined;
  wss.on('connection', (ws, req) => {
    tcp = req.socket;
    ws.on('error', () => {});
    ws.on('pong', (data) => heard.pongs.push(data.toString()));
    const handlers = {
      text: (t: string) => heard.messages.push(t),
      binary: (b: Buffer) => heard.messages.push(`binary:${b.toString('hex')}`),
    };
    // without the socket, ws reads everything itself
    const socket = direct ? req.socket : undefined;
    expect(readTextFrames(ws, socket, handlers, { server: true, maxBytes: MAX_BYTES })).toBe(direct);
  });
  const client = connect((wss.address() as AddressInfo).port, '127.0.0.1');
  sockets.push(client);
  await once(client, 'connect');
  client.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  client.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
  });
  await waitFor(() => received.includes('\r\n\r\n'));
  received = received.subarray(received.indexOf('\r\n\r\n') + 4);
  for (const piece of pieces) {
    client.write(piece);
    await new Promise(setImmediate); // most often a TCP read of its own at the server
  }
  await beforeTheEnd?.(heard);
  // a last ping: once its pong is back, the server has read everything before it
  client.write(frame({ opcode: 9, payload: 'end' }));
  await waitFor(() => {
    const close = serverFrames(received).find((f) => f.opcode === 8);
    if (close) heard.closed = close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
    return (
      close !== undefined ||
      serverFrames(received).some((f) => f.opcode === 10 && f.payload.toString() === 'end')
    );
  });
  heard.direct = tcp!.listeners('data').some((l) => l.name === 'onData'); // the reader's listener
  return heard;
}

/** Frames a server sent (unmasked), as far as they arrived. */
function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let head = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      head = 4;
    }
    if (at + head + length > bytes.length) break;
    frames.push({ opcode: bytes[at]! & 0x0f, payload: bytes.subarray(at + head, at + head + length) });
    at += head + length;
  }
  return frames;
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error('timed out');
}

/** A seeded split of `bytes` into pieces of 1 to `max` bytes, so every run cuts the same places. */
function split(bytes: Buffer, max: number, seed: number): Buffer[] {
  const pieces: Buffer[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length; ) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const size = 1 + (state % max);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** Reads `frames` both ways, whole and split; checks they agree, and returns what was heard. */
async function bothWays(frames: Buffer[]): Promise<Heard> {
  const bytes = Buffer.concat(frames);
  const whole = await deliver([bytes], true);
  expect({ ...whole, direct: undefined }).toEqual({ ...(await deliver([bytes], false)), direct: undefined });
  for (const [max, seed] of [
    [3, 1],
    [40, 7],
  ] as const) {
    const pieces = split(bytes, max, seed);
    expect({ ...(await deliver(pieces, true)), direct: undefined }).toEqual({ ...whole, direct: undefined });
  }
  return whole;
}

const media = (n: number) =>
  `{"event":"media","sequenceNumber":"${n}","media":{"track":"inbound","chunk":"${n}","timestamp":"${n * 20}","payload":"${'/w=='.repeat(40)}"}}`;

describe('readTextFrames (the server side)', () => {
  it('reads text frames of every length class and non-ASCII text, however TCP cuts them, and stays direct', async () => {
    const texts = [
      media(1),
      '',
      'x',
      'a'.repeat(125),
      'b'.repeat(126),
      'c'.repeat(65_535),
      'Zürich → 東京 🚚',
      media(2),
    ];
    const heard = await bothWays(texts.map((t) => text(t)));
    expect(heard).toEqual({ messages: texts, pongs: [], closed: 'open', direct: true });
  });

  it('reads a frame as soon as its last byte is in, however many pieces it came in', async () => {
    const long = 'd'.repeat(60_000);
    await deliver(split(text(long), 1_500, 3), true, async (heard) => {
      await waitFor(() => heard.messages.length === 1); // nothing else comes until it is read
      expect(heard.messages).toEqual([long]);
    });
  });

  it('passes pings and pongs to ws (pings answered, pongs reported) and keeps reading directly', async () => {
    const heard = await bothWays([
      text('a'),
      frame({ opcode: 9, payload: 'p1' }),
      frame({ opcode: 10, payload: 'hello' }),
      text('b'),
    ]);
    expect(heard).toEqual({ messages: ['a', 'b'], pongs: ['hello'], closed: 'open', direct: true });
  });

  it('gives the socket back to ws at a fragmented message, in order, pings in between included', async () => {
    const heard = await bothWays([
      text('before'),
      text('Hel', { fin: false }),
      frame({ opcode: 9, payload: 'p' }),
      frame({ opcode: 0, payload: 'lo' }),
      text('after'),
    ]);
    expect(heard).toEqual({
      messages: ['before', 'Hello', 'after'],
      pongs: [],
      closed: 'open',
      direct: false,
    });
  });

  it('gives binary frames to ws', async () => {
    const heard = await bothWays([text('a'), frame({ opcode: 2, payload: Buffer.from([1, 2]) }), text('b')]);
    expect(heard.messages).toEqual(['a', 'binary:0102', 'b']);
  });

  it('a close frame: ws answers it, and nothing after it is read', async () => {
    const close = Buffer.from([0x0f, 0xa0]); // 4000
    const heard = await bothWays([text('a'), frame({ opcode: 8, payload: close }), text('b')]);
    expect(heard).toEqual({ messages: ['a'], pongs: [], closed: 4000, direct: false });
  });

  it.each([
    ['an unmasked frame', text('bad', { masked: false }), 1002],
    ['invalid UTF-8', text(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007],
    ['a surrogate encoded in UTF-8', text(Buffer.from([0xed, 0xa0, 0x80])), 1007],
    ['RSV1 without an extension', text('bad', { rsv: 4 }), 1002],
    ['a reserved opcode', frame({ opcode: 3, payload: 'bad' }), 1002],
    ['a continuation with no message to continue', frame({ opcode: 0, payload: 'bad' }), 1002],
    ['a fragmented ping', frame({ opcode: 9, payload: 'p', fin: false }), 1002],
    ['a frame over maxPayload', text('x'.repeat(MAX_BYTES + 1)), 1009],
  ])('%s is refused as ws refuses it; what came before is read, nothing after', async (_name, bad, code) => {
    const heard = await bothWays([text('a'), bad, text('b')]);
    expect(heard).toEqual({ messages: ['a'], pongs: [], closed: code, direct: false });
  });

  it('a literal U+FFFD is valid text and read directly', async () => {
    const heard = await bothWays([text('before \uFFFD after')]);
    expect(heard).toEqual({ messages: ['before \uFFFD after'], pongs: [], closed: 'open', direct: true });
  });
});

describe('readTextFrames (the client side)', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /**
   * A raw server that accepts the upgrade and writes `bytes`, to a ws client reading it directly;
   * what the client heard, and the close code it sent back.
   */
  async function fromServer(bytes: Buffer[]): Promise<{ messages: string[]; closeSent: number }> {
    let closeSent = 0;
    server = createServer((socket) => {
      sockets.push(socket);
      socket.once('data', (request) => {
        const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(request.toString())![1]!;
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        for (const b of bytes) socket.write(b);
        socket.on('data', (reply) => {
          // the client's close frame (masked, with a code): read it, and end the connection
          if ((reply[0]! & 0x0f) !== 8) return;
          const mask = reply.subarray(2, 6);
          closeSent = ((reply[6]! ^ mask[0]!) << 8) | (reply[7]! ^ mask[1]!);
          socket.destroy();
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      perMessageDeflate: false,
    });
    const messages: string[] = [];
    let tcp: Duplex | undefined;
    ws.on('upgrade', (res) => {
      tcp = res.socket;
    });
    ws.on('open', () => {
      const handlers = { text: (t: string) => messages.push(t), binary: () => {} };
      expect(readTextFrames(ws, tcp!, handlers, { server: false, maxBytes: MAX_BYTES })).toBe(true);
    });
    ws.on('error', () => {});
    await new Promise((resolve) => ws.on('close', resolve)); // not once(): it rejects on 'error'
    return { messages, closeSent };
  }

  it('reads unmasked server frames, and refuses a masked one as ws does', async () => {
    const frames = [
      textFrame('one', false),
      textFrame('x'.repeat(300), false),
      text('masked'),
      textFrame('late', false),
    ];
    expect(await fromServer(frames)).toEqual({ messages: ['one', 'x'.repeat(300)], closeSent: 1002 });
  });
});
