import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../../src/observability/logger.js';
import {
  MAX_BUFFERED_BYTES,
  type MediaSocket,
  TwilioSocketPort,
} from '../../../src/telephony/twilio/socket-port.js';

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
