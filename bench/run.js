#!/usr/bin/env node
// Media-path micro-benchmark: how many Twilio frames per second one core can push through the
// bridge (parse → CallSession → Realtime append), and model audio deltas out (→ Twilio media + mark).
// Run after `npm run build`: `npm run bench`. Prints calls-per-core equivalents (50 frames/s per call).
import { CallSession } from '../dist/src/bridge/call-session.js';
import { silentLogger } from '../dist/src/observability/logger.js';
import { parseTwilioMessage } from '../dist/src/telephony/twilio/media-messages.js';

const FRAMES = 200_000;
let appended = 0;
let realtimeListener;
let lastMark = 'none';
let sent = 0;
const realtime = {
  send() {},
  appendAudio(b64) {
    appended += b64.length;
  },
  attach(listener) {
    realtimeListener = listener;
  },
  close() {},
};
const media = {
  sendMedia(p) {
    sent += p.length;
  },
  sendMark(name) {
    lastMark = name;
  },
  sendClear() {},
  close() {},
};
const session = new CallSession({
  callSid: 'CA1',
  streamSid: 'MZ1',
  media,
  realtime,
  behaviour: { interruptResponse: true, maxDurationS: 3600, logTranscripts: false },
  logger: silentLogger(),
  onEnded() {},
});

const payload = Buffer.alloc(160, 0x7f).toString('base64');
const frames = Array.from({ length: 1000 }, (_, i) =>
  JSON.stringify({
    event: 'media',
    sequenceNumber: String(i + 2),
    media: { track: 'inbound', chunk: String(i + 1), timestamp: String(i * 20), payload },
    streamSid: 'MZ1',
  }),
);

function measure(name, n, fn) {
  for (let i = 0; i < Math.min(n, 5000); i++) fn(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const perSecond = n / seconds;
  console.log(
    `${name.padEnd(44)} ${Math.round(perSecond).toLocaleString('en').padStart(12)} /s  (${((seconds / n) * 1e6).toFixed(2)} µs each)`,
  );
  return perSecond;
}

let ts = 20_000;
const inbound = measure('inbound frame: parse + bridge + append', FRAMES, (i) => {
  const msg = parseTwilioMessage(frames[i % 1000]);
  msg.timestampMs = ts;
  ts += 20;
  session.handleTwilio(msg);
});
const delta = Buffer.alloc(800, 0x55).toString('base64'); // 100 ms of model audio
const handler = session;
const item = 0;
const outbound = measure('outbound 100 ms delta: forward + mark', FRAMES / 4, () => {
  // drive the private event path through the same public surface the socket uses
  // Twilio echoes the previous chunk's mark as the next delta arrives: steady-state playback
  handler.handleTwilio({ event: 'mark', streamSid: 'MZ1', name: lastMark });
  realtimeListener.onEvent({
    type: 'response.output_audio.delta',
    responseId: 'r',
    itemId: `i${item}`,
    contentIndex: 0,
    delta,
  });
});
console.log(
  `\none core ≈ ${Math.round(inbound / 50).toLocaleString('en')} calls of inbound audio (50 frames/s each)`,
);
console.log(`appended ${appended} base64 chars, sent ${sent}; outbound ${Math.round(outbound)} deltas/s`);
session.end({ kind: 'completed', reason: 'bench done' });
