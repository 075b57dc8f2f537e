#!/usr/bin/env node
// The media path's own code in one process, without sockets: what bench/load.js measures, minus the
// network. N calls, each a real CallSession with the OpenAI model session and the Twilio port of
// `serve`; every 20 ms tick (run back to back here) each call gets a Realtime audio delta and a
// Twilio `media` message as text, parsed by the same readers, and every fifth tick the echo of a
// mark it sent. Frames are built and "written" to a socket that only counts bytes. Prints the
// nanoseconds per frame (both ways, averaged): the cost of the instructions, which is a fraction of
// what the same code costs between real socket system calls (see the README's "Performance").
//
//   npm run build && npm run bench:in-process -- --calls 200 --rounds 5
//   --evict-kb K   read K KB of other memory before each tick (caches cold)
//   --evict-each   ... before each call's frames instead (slow: use --ticks 200 --rounds 3)
//   --syscall      one write to /dev/null before each frame
import { openSync, writeSync } from 'node:fs';

const load = (path) => import(new URL(`../dist/src/${path}`, import.meta.url).href);
const { CallSession } = await load('bridge/call-session.js');
const { OpenAiModelSession } = await load('model/openai/model-session.js');
const { parseServerEvent } = await load('model/openai/events.js');
const { TwilioSocketPort } = await load('telephony/twilio/socket-port.js');
const { TwilioStreamReader, toMediaEvent } = await load('telephony/twilio/media-messages.js');
const { createLogger } = await load('observability/logger.js');
const { TextFrameSender } = await load('net/text-frame.js');
const { APPEND_BYTES } = await load('model/openai/connection.js');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const CALLS = Number(flag('calls', 200));
const ROUNDS = Number(flag('rounds', 5));
const TICKS_PER_ROUND = Number(flag('ticks', 2000));
const other = new Uint8Array(Number(flag('evict-kb', 0)) * 1024);
const evictEachCall = process.argv.includes('--evict-each');
const devNull = process.argv.includes('--syscall') ? openSync('/dev/null', 'w') : undefined;
const oneByte = Buffer.alloc(1);

const logger = createLogger({ level: 'error', json: true, write: () => {} });
const BEHAVIOUR = {
  interruptResponse: true,
  createResponse: true,
  maxDurationS: 3600,
  idleTimeoutS: 3600,
  logTranscripts: false,
};
const PAYLOAD = Buffer.alloc(160, 0x55).toString('base64');
const DELTA = `{"type":"response.output_audio.delta","event_id":"evt_d","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"${PAYLOAD}"}`;
let bytesWritten = 0;
/**
 * One stream SID for every call, so that Twilio's messages, made beforehand (making them is not
 * measured), are shared: serve decodes each message fresh off the socket, in cache, where a text
 * made for each call would be read cold with --evict-each.
 */
const STREAM_SID = `MZ${'0'.repeat(32)}`;
const MEDIA_TEXTS = Array.from(
  { length: 250 },
  (_, i) =>
    `{"event":"media","sequenceNumber":"${i + 1}","media":{"track":"inbound","chunk":"${i + 1}","timestamp":"${(i + 1) * 20}","payload":"${PAYLOAD}"},"streamSid":"${STREAM_SID}"}`,
);

/** One call wired as `serve` wires it, with sockets that only count what is written to them. */
function startCall(index) {
  const id = String(index).padStart(32, '0');
  const ws = { readyState: 1, bufferedAmount: 0, send() {}, close() {} };
  const tcp = {
    writableLength: 0,
    write(frame) {
      bytesWritten += frame.length;
    },
  };
  const toRealtime = new TextFrameSender(ws, tcp, true);
  let listener;
  const connection = {
    openedAt: 0,
    send() {},
    close() {},
    // as the Realtime connection frames caller audio (its socket is the one thing left out)
    appendAudio: (base64) => toRealtime.sendWrapped(APPEND_BYTES.head, base64, APPEND_BYTES.tail),
    attach: (l) => {
      listener = l;
    },
  };
  const port = new TwilioSocketPort(ws, STREAM_SID, logger, tcp);
  const marks = [];
  const media = {
    sendMedia: (payload) => port.sendMedia(payload),
    sendMark: (name) => {
      marks.push(name);
      port.sendMark(name);
    },
    sendClear: () => port.sendClear(),
    close: () => port.close(),
  };
  const session = new CallSession({
    callSid: `CA${id}`,
    streamSid: STREAM_SID,
    media,
    model: new OpenAiModelSession(connection, { instructions: 'Talk.' }),
    logger,
    behaviour: BEHAVIOUR,
    onEnded() {},
  });
  session.start();
  const serverEvent = (event) => listener.onEvent(parseServerEvent(JSON.stringify(event)));
  const format = { type: 'audio/pcmu' };
  serverEvent({ type: 'session.updated', session: { audio: { input: { format }, output: { format } } } });
  serverEvent({ type: 'response.created', response: { id: 'resp_1', metadata: {} } });
  let sequence = MEDIA_TEXTS.length;
  const markEcho = (name) =>
    `{"event":"mark","sequenceNumber":"${++sequence}","streamSid":"${STREAM_SID}","mark":{"name":"${name}"}}`;
  // the session attached itself to the connection when it was made
  return {
    session,
    realtime: listener,
    reader: new TwilioStreamReader(STREAM_SID),
    marks,
    markEcho,
  };
}

const calls = Array.from({ length: CALLS }, (_, i) => startCall(i + 1));
let sink = 0;

/** Time spent on the extras (eviction, system calls), timed where they run and taken off. */
let extrasMs = 0;
function evict() {
  const start = performance.now();
  for (let i = 0; i < other.length; i += 64) sink += other[i];
  extrasMs += performance.now() - start;
}
function systemCall() {
  if (devNull === undefined) return;
  const start = performance.now();
  writeSync(devNull, oneByte);
  extrasMs += performance.now() - start;
}

async function tick(t) {
  if (other.length > 0 && !evictEachCall) evict();
  for (const call of calls) {
    if (other.length > 0 && evictEachCall) evict();
    systemCall();
    call.realtime.onEvent(parseServerEvent(DELTA));
    systemCall();
    call.session.handleMedia(toMediaEvent(call.reader.read(MEDIA_TEXTS[t % MEDIA_TEXTS.length])));
    if (t % 5 === 4 && call.marks.length > 0)
      call.session.handleMedia(toMediaEvent(call.reader.read(call.markEcho(call.marks.shift()))));
  }
  await new Promise((resolve) => setImmediate(resolve)); // the tick ends: queued frames are written
}

const perFrame = [];
for (let round = 0; round < ROUNDS; round++) {
  extrasMs = 0;
  const start = performance.now();
  for (let t = round * TICKS_PER_ROUND; t < (round + 1) * TICKS_PER_ROUND; t++) await tick(t);
  perFrame.push(((performance.now() - start - extrasMs) * 1e6) / (TICKS_PER_ROUND * CALLS * 2));
}
perFrame.sort((a, b) => a - b);
const ended = calls.filter((call) => call.session.state === 'ended').length;
if (ended > 0 || bytesWritten === 0 || sink < 0) throw new Error(`the calls did not run (${ended} ended)`);
console.log(
  `${CALLS} calls, ${ROUNDS} rounds of ${TICKS_PER_ROUND} ticks: ${perFrame[ROUNDS >> 1].toFixed(0)} ns per frame ` +
    `(median; ${perFrame[0].toFixed(0)}–${perFrame.at(-1).toFixed(0)}), ${Math.round(bytesWritten / 1024)} kB written`,
);
