import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../../../src/observability/logger.js';
import { clearMessage, markMessage, mediaMessage } from '../../../../src/telephony/twilio/media-messages.js';
import {
  MAX_BUFFERED_BYTES,
  type MediaSocket,
  TwilioSocketPort,
} from '../../../../src/telephony/twilio/socket-port.js';

function stalledSocket() {
  const sent: string[] = [];
  const socket = {
    readyState: WebSocket.OPEN,
    bufferedAmount: 0,
    send: (data: string) => void sent.push(data),
    close: () => {},
  };
  return { socket, sent };
}

describe('TwilioSocketPort: a Twilio leg that stops reading', () => {
  it('drops agent audio instead of buffering it without bound, logs it once, and resumes when drained', () => {
    const logs: string[] = [];
    const { socket, sent } = stalledSocket();
    const port = new TwilioSocketPort(
      socket as unknown as MediaSocket,
      'MZ1',
      createLogger({ level: 'info', json: true, write: (l) => logs.push(l) }),
    );
    expect(port.sendMedia('AAAA')).toBe(true);
    socket.bufferedAmount = MAX_BUFFERED_BYTES + 1; // the reader stalled
    for (let i = 0; i < 100; i++) expect(port.sendMedia('AAAA')).toBe(false);
    expect(sent).toHaveLength(1);
    expect(logs.filter((l) => l.includes('dropping agent audio'))).toHaveLength(1);
    socket.bufferedAmount = 0; // it drained
    expect(port.sendMedia('AAAA')).toBe(true);
    expect(sent).toHaveLength(2);
    expect(logs.find((l) => l.includes('reading again'))).toContain('"droppedFrames":100');
  });
});

/** The text messages in a buffer of unmasked server frames. */
function messagesIn(buffer: Buffer): string[] {
  const texts: string[] = [];
  for (let at = 0; at < buffer.length; ) {
    let length = buffer[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = buffer.readUInt16BE(at + 2);
      start += 2;
    }
    texts.push(buffer.toString('latin1', start, start + length));
    at = start + length;
  }
  return texts;
}

/** A port on a socket that records each write (one entry per system call), and `ws`'s own sends. */
function wiredPort() {
  const wire: string[][] = [];
  const socket = {
    readyState: WebSocket.OPEN as number,
    bufferedAmount: 0,
    send: (data: string) => void wire.push([`ws: ${data}`]),
    close: () => {},
  };
  const tcp = { write: (frame: Buffer) => void wire.push(messagesIn(frame)), writableLength: 0 };
  const port = new TwilioSocketPort(
    socket as unknown as MediaSocket,
    'MZ1',
    createLogger({ level: 'silent' }),
    tcp,
  );
  return { port, socket, wire };
}

const endOfTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('TwilioSocketPort: what a call sends in one tick', () => {
  it('leaves in one write once the tick is done: a chunk and its mark, then the next tick on its own', async () => {
    const { port, wire } = wiredPort();
    port.sendMedia('AAAA');
    port.sendMark('m1');
    port.sendMedia('BBBB');
    expect(wire).toEqual([]);
    await endOfTick();
    expect(wire).toEqual([
      [mediaMessage('MZ1', 'AAAA'), markMessage('MZ1', 'm1'), mediaMessage('MZ1', 'BBBB')],
    ]);
    port.sendMedia('CCCC');
    await endOfTick();
    expect(wire).toHaveLength(2);
    expect(wire[1]).toEqual([mediaMessage('MZ1', 'CCCC')]);
  });

  it('a clear goes after the audio it clears, and nothing follows a close', async () => {
    const { port, socket, wire } = wiredPort();
    port.sendMedia('AAAA');
    port.sendClear();
    expect(wire).toEqual([[mediaMessage('MZ1', 'AAAA')], [`ws: ${clearMessage('MZ1')}`]]);
    port.sendMedia('BBBB');
    socket.readyState = WebSocket.CLOSING; // the WebSocket began closing later in the tick
    await endOfTick();
    expect(wire).toHaveLength(2);
  });
});
