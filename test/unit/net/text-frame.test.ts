import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket, * as wsModule from 'ws';
import { TextFrameSender, textFrame, wrappedTextFrame } from '../../../src/net/text-frame.js';

/** ws's own frame reader: ws exports it, @types/ws does not declare it. */
const { Receiver } = wsModule as unknown as {
  Receiver: new (options: {
    isServer: boolean;
    maxPayload: number;
  }) => EventEmitter & {
    write(chunk: Buffer): boolean;
  };
};

/** Reads frames with ws's own receiver: a server's expects masked frames, a client's unmasked. */
function readFrames(frames: Buffer[], asServer: boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: asServer, maxPayload: 0 });
    const messages: string[] = [];
    receiver.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      messages.push(data.toString());
      if (messages.length === frames.length) resolve(messages);
    });
    receiver.on('error', reject);
    receiver.write(Buffer.concat(frames));
  });
}

const textOf = (length: number) => 'A/+='.repeat(Math.ceil(length / 4)).slice(0, length);
// every length class of the header: 7-bit, 16-bit and 64-bit, at their edges
const LENGTHS = [0, 1, 3, 125, 126, 127, 65_535, 65_536, 200_001];

describe('textFrame', () => {
  it('a server frame (unmasked) reads back as the same text message, whatever its length', async () => {
    const texts = LENGTHS.map(textOf);
    expect(
      await readFrames(
        texts.map((t) => textFrame(t, false)),
        false,
      ),
    ).toEqual(texts);
  });

  it('a client frame is masked and reads back as the same text message, whatever its length', async () => {
    const texts = LENGTHS.map(textOf);
    const frames = texts.map((t) => textFrame(t, true));
    for (const frame of frames) expect(frame[1]! & 0x80).toBe(0x80);
    expect(await readFrames(frames, true)).toEqual(texts);
  });

  it('draws a fresh mask for every client frame, past the end of its random pool', () => {
    const masks = new Set<string>();
    for (let i = 0; i < 3_000; i++) masks.add(textFrame('{"a":1}', true).subarray(2, 6).toString('hex'));
    expect(masks.size).toBeGreaterThan(2_990); // 2^32 possible masks: repeats are rare, not systematic
  });

  it('is refused by the wrong side, as the protocol says', async () => {
    await expect(readFrames([textFrame('hi', false)], true)).rejects.toThrow(/MASK must be set/);
    await expect(readFrames([textFrame('hi', true)], false)).rejects.toThrow(/MASK must be clear/);
  });
});

describe('wrappedTextFrame', () => {
  const head = Buffer.from('{"event":"media","streamSid":"MZ1","media":{"payload":"');
  const tail = Buffer.from('"}}');

  it('is the frame of head + body + tail, at every header length class', async () => {
    for (const length of LENGTHS) {
      const body = textOf(length);
      const text = `${head}${body}${tail}`;
      expect(wrappedTextFrame(head, body, tail, false)).toEqual(textFrame(text, false));
      expect(await readFrames([wrappedTextFrame(head, body, tail, true)], true)).toEqual([text]);
    }
  });
});

describe('TextFrameSender', () => {
  it('writes only while the WebSocket is open', () => {
    const written: Buffer[] = [];
    const ws: { readyState: WebSocket['readyState'] } = { readyState: WebSocket.CONNECTING };
    const sender = new TextFrameSender(ws, { write: (frame: Buffer) => written.push(frame) }, false);
    const send = (text: string) =>
      sender.sendWrapped(Buffer.from(text.slice(0, 1)), text.slice(1, -1), Buffer.from(text.slice(-1)));
    expect(send('early')).toBe(false);
    ws.readyState = WebSocket.OPEN;
    expect(send('now')).toBe(true);
    ws.readyState = WebSocket.CLOSING;
    expect(send('late')).toBe(false);
    expect(written).toEqual([textFrame('now', false)]);
  });
});
