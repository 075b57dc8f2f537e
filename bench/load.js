#!/usr/bin/env node
// End-to-end load benchmark of the media path, sockets included (see the README's "Performance").
//
// One process (this one) plays both clouds: N Twilio-like calls (signed webhook, signed upgrade,
// `start` with the stream token, a media frame every 20 ms in Twilio's field order, each mark echoed
// once the audio before it has played in real time) and a Realtime stand-in that answers each call
// with 200 ms of audio at once, then a 20 ms delta every 20 ms for as long as the call lasts. The
// system under test is the real `voice-agent serve` (the built dist/) as a child process, measured
// against the floor (bench/bare-relay.js) and Twilio's own sample (bench/twilio-sample.js). Every
// frame carries its send time in its first 8 bytes (the relay never re-encodes audio), so the
// receiving side measures each frame's latency: inbound (Twilio → serve → Realtime) and outbound
// (Realtime → serve → Twilio).
// Server CPU is read from /proc for serve and its workers.
//
//   npm run build && npm run bench:load -- --calls 100 --seconds 20 --workers 1
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AUTH_TOKEN = 'bench-auth-token';
const FRAME_MS = 20;
const FRAME_BYTES = 160;
const LATE_MS = 40;
/** Audio (20 ms frames) the Realtime stand-in sends at once when an answer starts. */
const LEAD_FRAMES = 10;

// The instrument reads and writes its WebSocket messages as serve does (whole text frames straight
// off and onto the socket, src/net; `ws` keeps the handshakes, pings and closes): it drives every
// system the same way, and it spends less than through `ws`, so it keeps its pacing at more calls.
const dist = (path) => import(new URL(`../dist/src/${path}`, import.meta.url).href);
const { readTextFrames } = await dist('net/frame-reader.js');
const { TextFrameSender } = await dist('net/text-frame.js');
const NOTHING = Buffer.alloc(0);
/** Text messages `ws` gets go to `onText`, read off `socket`; returns how to send one (ASCII). */
function directText(ws, socket, { server, onText }) {
  readTextFrames(ws, socket, { text: onText, binary: () => {} }, { server, maxBytes: 1 << 20 });
  const frames = new TextFrameSender(ws, socket, !server);
  return (text) => frames.sendWrapped(NOTHING, text, NOTHING);
}

/** Wall-clock milliseconds with sub-ms precision (both clouds live in this process). */
const now = () => performance.timeOrigin + performance.now();

// This process is the instrument: what it spends per message delays what it measures (and at 300
// calls it is near a core's worth), so its hot messages are written with templates (the same text
// `JSON.stringify` makes) and read without `JSON.parse` when they have the expected shape, and a
// frame's stamp is written and read in reused buffers.

/** Frames caller audio (0xff) and agent audio (0x55) are made in, rewritten for every frame. */
const CALLER_FRAME = Buffer.alloc(FRAME_BYTES, 0xff);
const AGENT_FRAME = Buffer.alloc(FRAME_BYTES, 0x55);
/** A frame carrying its send time, its stream and its place in it (bytes 0–7, 8–11, 12–15). */
function stampedFrame(frame, stream, seq) {
  frame.writeDoubleLE(now(), 0);
  frame.writeUInt32LE(stream, 8);
  frame.writeUInt32LE(seq, 12);
  return frame.toString('base64');
}
const STAMP = Buffer.alloc(18);
/** Passes the stamp of the frame whose base64 starts at `text[at]` to `see(sentAt, stream, seq)`. */
function readStamp(text, at, see) {
  STAMP.write(text.slice(at, at + 24), 'base64');
  see(STAMP.readDoubleLE(0), STAMP.readUInt32LE(8), STAMP.readUInt32LE(12));
}
/** Where the value of the string field `"name":"…"` starts in `text` (-1: not there). */
function fieldAt(text, name) {
  const at = text.indexOf(`"${name}":"`);
  return at < 0 ? -1 : at + name.length + 4;
}

/**
 * Frames lost inside each stream: a gap in its sequence numbers after its first frame arrived
 * (frames before that — a call still connecting — and after its end are not counted either way).
 */
class Gaps {
  last = new Map();
  lost = 0;
  see(stream, seq) {
    const last = this.last.get(stream);
    if (last !== undefined && seq > last + 1) this.lost += seq - last - 1;
    if (last === undefined || seq > last) this.last.set(stream, seq);
  }
}

class Latencies {
  values = [];
  late = 0;
  add(ms) {
    this.values.push(ms);
    if (ms > LATE_MS) this.late++;
  }
  pct(p) {
    if (this.values.length === 0) return Number.NaN;
    const sorted = Float64Array.from(this.values).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}

/** The Realtime stand-in: configures like OpenAI, then answers with 20 ms deltas until the socket closes. */
function startRealtimeStandIn(measure) {
  let streams = 0;
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const speaking = new Set();
  wss.on('connection', (ws, request) => {
    let n = 0;
    const id = () => `evt_${++n}`;
    ws.sendText = directText(ws, request.socket, { server: true, onText });
    const send = (event) => ws.sendText(JSON.stringify({ event_id: id(), ...event }));
    send({ type: 'session.created', session: {} });
    function onText(text) {
      if (text.startsWith('{"type":"input_audio_buffer.append",')) {
        const at = fieldAt(text, 'audio');
        if (at > 0) return readStamp(text, at, measure.inbound);
      }
      const event = JSON.parse(text);
      if (event.type === 'session.update') {
        send({
          type: 'session.updated',
          session: {
            audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } },
          },
        });
      } else if (event.type === 'response.create' && !speaking.has(ws)) {
        const responseId = `resp_${randomBytes(6).toString('hex')}`;
        send({
          type: 'response.created',
          response: { id: responseId, metadata: event.response?.metadata ?? {} },
        });
        send({
          type: 'response.output_item.added',
          response_id: responseId,
          item: { id: `item_${responseId}`, type: 'message', role: 'assistant' },
        });
        speaking.add(ws);
        ws.speaking = { responseId, itemId: `item_${responseId}`, stream: ++streams, seq: 0 };
        // like the service, the start of an answer comes faster than real time: the phone keeps
        // LEAD_FRAMES of audio queued from then on, as it does on a real call
        for (let i = 0; i < LEAD_FRAMES; i++) sendDelta(ws);
      } else if (event.type === 'input_audio_buffer.append') {
        readStamp(event.audio, 0, measure.inbound);
      }
    }
    ws.on('close', () => speaking.delete(ws));
  });
  // one clock for every answer, like a model streaming in real time
  function sendDelta(ws) {
    const { responseId, itemId, stream } = ws.speaking;
    const delta = stampedFrame(AGENT_FRAME, stream, ++ws.speaking.seq);
    ws.sendText(
      `{"type":"response.output_audio.delta","event_id":"evt_d","response_id":"${responseId}","item_id":"${itemId}","output_index":0,"content_index":0,"delta":"${delta}"}`,
    );
    measure.sentOut++;
  }
  const tick = setInterval(() => {
    for (const ws of speaking) if (ws.readyState === WebSocket.OPEN) sendDelta(ws);
  }, FRAME_MS);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `ws://127.0.0.1:${server.address().port}/v1/realtime`,
        close: () => {
          clearInterval(tick);
          for (const ws of wss.clients) ws.terminate();
          return new Promise((r) => server.close(r));
        },
      }),
    ),
  );
}

const sign = (url, params = {}) =>
  createHmac('sha1', AUTH_TOKEN)
    .update(
      url +
        Object.keys(params)
          .sort()
          .map((k) => k + params[k])
          .join(''),
    )
    .digest('base64');

/** One Twilio-like call: webhook, stream, a frame every 20 ms (driven by the shared clock), mark echoes. */
async function placeCall(base, measure, index) {
  const callSid = `CA${randomBytes(16).toString('hex')}`;
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  const webhook = `${base}/voice/incoming`;
  const params = {
    CallSid: callSid,
    AccountSid: `AC${'0'.repeat(32)}`,
    From: '+15550001111',
    To: '+15550002222',
  };
  const twiml = await (
    await fetch(webhook, {
      method: 'POST',
      headers: { 'x-twilio-signature': sign(webhook, params) },
      body: new URLSearchParams(params),
    })
  ).text();
  // the stream token is voice-agent's (the relay sends a dummy one); Twilio's sample has none
  const token = /name="token" value="([^"]+)"/.exec(twiml)?.[1];
  const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
  if (!streamUrl) throw new Error(`the webhook did not connect a stream: ${twiml.slice(0, 200)}`);
  const ws = new WebSocket(streamUrl, {
    headers: { 'x-twilio-signature': sign(streamUrl) },
    perMessageDeflate: false,
  });
  const sendText = await new Promise((resolve, reject) => {
    let socket;
    ws.once('upgrade', (response) => {
      socket = response.socket;
    });
    ws.once('open', () => resolve(directText(ws, socket, { server: false, onText })));
    ws.once('error', reject);
  });
  let seq = 0;
  // fields in the order Twilio sends them: event, sequenceNumber, then the rest
  const send = ({ event, ...rest }) =>
    sendText(JSON.stringify({ event, sequenceNumber: String(++seq), ...rest }));
  sendText(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  send({
    event: 'start',
    start: {
      accountSid: params.AccountSid,
      streamSid,
      callSid,
      tracks: ['inbound'],
      customParameters: token ? { token, callSid } : { callSid },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
    streamSid,
  });
  // Twilio plays what it receives in real time and echoes a mark once the audio before it has
  // played: the playhead is when the queued audio ends; echoes wait for it (checked every 20 ms)
  let playedAt = 0;
  const echoes = [];
  const echoDue = () => {
    while (echoes.length > 0 && echoes[0].at <= now()) {
      const name = JSON.stringify(echoes.shift().name);
      sendText(
        `{"event":"mark","sequenceNumber":"${++seq}","streamSid":"${streamSid}","mark":{"name":${name}}}`,
      );
    }
  };
  /** Agent audio, base64 in `text[at…end)`: measured, and queued to play. */
  const played = (text, at, end) => {
    readStamp(text, at, measure.outbound);
    playedAt = Math.max(now(), playedAt) + ((end - at) * 3) / 4 / 8;
  };
  const marked = (name) => {
    echoes.push({ name, at: playedAt });
    echoDue();
  };
  function onText(text) {
    // media and marks as the three servers write them are read where they are; anything else parsed
    const isMedia = text.startsWith('{"event":"media",');
    if (isMedia || text.startsWith('{"event":"mark",')) {
      const at = fieldAt(text, isMedia ? 'payload' : 'name');
      const end = at > 0 ? text.indexOf('"', at) : -1;
      if (end > 0 && text.charCodeAt(end - 1) !== 0x5c /* no escaped quote */) {
        if (isMedia) played(text, at, end);
        else marked(text.slice(at, end));
        return;
      }
    }
    const message = JSON.parse(text);
    if (message.event === 'media') played(message.media.payload, 0, message.media.payload.length);
    else if (message.event === 'mark') marked(message.mark.name);
  }
  let chunk = 0;
  return {
    frame() {
      if (ws.readyState !== WebSocket.OPEN) return;
      echoDue();
      chunk++;
      const payload = stampedFrame(CALLER_FRAME, index, chunk);
      sendText(
        `{"event":"media","sequenceNumber":"${++seq}","media":{"track":"inbound","chunk":"${chunk}","timestamp":"${chunk * FRAME_MS}","payload":"${payload}"},"streamSid":"${streamSid}"}`,
      );
      measure.sentIn++;
    },
    hangUp() {
      if (ws.readyState === WebSocket.OPEN)
        send({ event: 'stop', stop: { accountSid: params.AccountSid, callSid }, streamSid });
      ws.close();
    },
  };
}

/** CPU seconds, in user space and in the kernel, of a process and its children (serve's workers), from /proc. */
function cpuSeconds(pid) {
  const pids = [pid, ...childrenOf(pid)];
  let user = 0;
  let kernel = 0;
  for (const p of pids) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      user += Number(fields[11]);
      kernel += Number(fields[12]);
    } catch {}
  }
  return { user: user / 100, kernel: kernel / 100 };
}
function rssMb(pid) {
  let kb = 0;
  for (const p of [pid, ...childrenOf(pid)]) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}
function childrenOf(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** The systems a run can measure besides `serve`: the floor, and Twilio's own sample. */
const SCRIPTS = { relay: 'bench/bare-relay.js', sample: 'bench/twilio-sample.js' };
const NAMES = { relay: 'bare relay', sample: 'Twilio sample' };

/**
 * One run: `calls` calls for `seconds` through `system`: the real `serve --workers` ('voice-agent'),
 * the floor ('relay', bench/bare-relay.js) or Twilio's sample ('sample', bench/twilio-sample.js).
 */
export async function runLoad({ calls, seconds, quiet = false, ...system }) {
  return (await runTogether([system], { calls, seconds, quiet }))[0];
}

/**
 * Runs `systems` at the same time, each with `calls` calls of its own, driven by one clock (their
 * calls take turns within each 20 ms tick) and measured over the same window: a comparison the
 * machine's drift between runs cannot tilt (`--together`).
 */
export async function runTogether(systems, { calls, seconds, quiet = false }) {
  const started = [];
  try {
    for (const system of systems) started.push(await startSystem(system));
    const live = [];
    const clock = setInterval(() => {
      for (const call of live) call.frame();
    }, FRAME_MS);
    // ramp up: a call every 10 ms
    for (let i = 0; i < calls; i++) {
      for (const system of started) live.push(await placeCall(system.base, system.measure, i + 1));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 2_000)); // every greeting under way
    const own = process.cpuUsage();
    for (const system of started) system.startWindow();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    // this process's own share of a core over the window: both clouds run here, so near 100% its own
    // queueing is in the latency figures
    const ownUsed = process.cpuUsage(own);
    const loadBusy = (ownUsed.user + ownUsed.system) / 1e6 / seconds;
    const results = started.map((system) => ({ ...system.endWindow(calls, seconds), loadBusy }));
    // let frames in flight land, then count what never arrived
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(clock);
    await new Promise((r) => setTimeout(r, 500));
    started.forEach((system, i) => {
      results[i].lostIn = system.measure.gapsIn.lost;
      results[i].lostOut = system.measure.gapsOut.lost;
    });
    for (const call of live) call.hangUp();
    if (!quiet) printResults(results);
    return results;
  } finally {
    for (const system of started) await system.stop();
  }
}

/** Starts one system under test and its Realtime stand-in; its calls are placed by the caller. */
async function startSystem({
  workers = 1,
  system = 'voice-agent',
  serverCpus,
  root = ROOT,
  records = false,
}) {
  const inbound = new Latencies();
  const outbound = new Latencies();
  let steady = false;
  const measure = {
    sentIn: 0,
    sentOut: 0,
    receivedIn: 0,
    receivedOut: 0,
    gapsIn: new Gaps(),
    gapsOut: new Gaps(),
    inbound: (sentAt, stream, seq) => {
      measure.receivedIn++;
      measure.gapsIn.see(stream, seq);
      if (steady) inbound.add(now() - sentAt);
    },
    outbound: (sentAt, stream, seq) => {
      measure.receivedOut++;
      measure.gapsOut.see(stream, seq);
      if (steady) outbound.add(now() - sentAt);
    },
  };
  const standIn = await startRealtimeStandIn(measure);
  const dir = mkdtempSync(join(tmpdir(), 'voice-agent-bench-'));
  writeFileSync(
    join(dir, 'agent.yaml'),
    `name: bench\ninstructions: Talk.\ngreeting: Hello.\ncall:\n  idle_timeout_s: 3600\n  max_duration_s: 3600\nrecords:\n  enabled: ${records}\n  audio: ${process.env.BENCH_AUDIO ?? records}\n`,
  );
  // --pin: the server on its own cores (taskset), the load generator on the rest
  const [command, prefix] = serverCpus
    ? ['taskset', ['-c', serverCpus, process.execPath]]
    : [process.execPath, []];
  const serve = spawn(
    command,
    [
      ...prefix,
      // BENCH_PROFILE_DIR=dir: the server writes a V8 CPU profile there when it exits
      ...(process.env.BENCH_PROFILE_DIR
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : []),
      // BENCH_PERF_MAP=1: the server writes /tmp/perf-<pid>.map, so `perf report` names its JavaScript
      ...(process.env.BENCH_PERF_MAP ? ['--perf-basic-prof-only-functions'] : []),
      ...(system in SCRIPTS
        ? [join(ROOT, SCRIPTS[system])]
        : [
            join(root, 'bin/voice-agent.js'),
            'serve',
            'agent.yaml',
            '--port',
            '0',
            '--host',
            '127.0.0.1',
            '--workers',
            String(workers),
            '--skip-preflight',
            '--log-level',
            'info',
            '--json-logs',
            '--drain-timeout',
            '0',
          ]),
    ],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_REALTIME_URL: standIn.url,
        TWILIO_AUTH_TOKEN: AUTH_TOKEN,
        VOICE_AGENT_DATA_DIR: dir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  serve.stderr.on('data', (d) => {
    log += d;
  });
  serve.stdout.on('data', (d) => {
    log += d;
  });
  const stop = async () => {
    if (serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve.once('exit', r));
    }
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let base;
  try {
    base = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${log}`)), 20_000);
      const check = () => {
        const match = /"webhookUrl":"(http:\/\/[^"]+)\/voice\/incoming"/.exec(log);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      serve.stderr.on('data', check);
      serve.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${log}`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  let before;
  // the server before any call: what calls add to it is their memory
  const idleRssMb = rssMb(serve.pid);
  return {
    base,
    measure,
    stop,
    startWindow() {
      before = {
        cpu: cpuSeconds(serve.pid),
        in: measure.receivedIn,
        out: measure.receivedOut,
        sentIn: measure.sentIn,
        sentOut: measure.sentOut,
      };
      steady = true;
    },
    /** The window's figures (frames lost are counted later, once frames in flight have landed). */
    endWindow(calls, seconds) {
      steady = false;
      const after = cpuSeconds(serve.pid);
      const user = after.user - before.cpu.user;
      const cpu = user + after.kernel - before.cpu.kernel;
      const framesIn = measure.receivedIn - before.in;
      const framesOut = measure.receivedOut - before.out;
      return {
        system:
          system in NAMES
            ? NAMES[system]
            : `${root === ROOT ? 'voice-agent' : 'baseline'} (${workers} worker${workers > 1 ? 's' : ''}${records ? ', rec' : ''})`,
        calls,
        framesIn,
        framesOut,
        lateIn: inbound.late,
        lateOut: outbound.late,
        inP50: inbound.pct(50),
        inP99: inbound.pct(99),
        outP50: outbound.pct(50),
        outP99: outbound.pct(99),
        cpuSeconds: cpu,
        usPerFrame: (cpu * 1e6) / (framesIn + framesOut),
        // the part spent in user space (JavaScript, V8, libuv): the system calls' kernel time is the
        // same work for every system and much of the noise, so a change to the code shows here first
        userUsPerFrame: (user * 1e6) / (framesIn + framesOut),
        rssMb: rssMb(serve.pid),
        // memory per live call: the server's growth since it was idle, shared out
        kbPerCall: ((rssMb(serve.pid) - idleRssMb) * 1024) / calls,
        // frames this process managed to send, against 20 ms pacing for every call both ways: under
        // ~97% it is saturated itself, and its own delay is in the latency figures
        pace:
          (measure.sentIn - before.sentIn + measure.sentOut - before.sentOut) /
          ((2 * calls * seconds * 1000) / FRAME_MS),
      };
    },
  };
}

export function printResults(results) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  console.log(
    'system                       calls  frames in/out    lost  late>40ms  in p50/p99 ms   out p50/p99 ms  CPU s  µs/frame  user µs  RSS MB  KB/call  load CPU',
  );
  for (const r of results)
    console.log(
      `${r.system.padEnd(27)} ${String(r.calls).padStart(6)}  ${`${r.framesIn}/${r.framesOut}`.padStart(14)}  ${String(r.lostIn + r.lostOut).padStart(6)}  ${String(r.lateIn + r.lateOut).padStart(9)}  ${`${f(r.inP50)}/${f(r.inP99)}`.padStart(13)}  ${`${f(r.outP50)}/${f(r.outP99)}`.padStart(14)}  ${f(r.cpuSeconds).padStart(5)}  ${f(r.usPerFrame).padStart(8)}  ${f(r.userUsPerFrame).padStart(7)}  ${f(r.rssMb, 0).padStart(6)}  ${f(r.kbPerCall, 0).padStart(7)}  ${`${(r.loadBusy * 100).toFixed(0)}%`.padStart(8)}`,
    );
  const behind = results.filter((r) => r.pace < 0.97);
  if (behind.length > 0)
    console.log(
      `the load fell behind its 20 ms pacing (${behind.map((r) => `${(r.pace * 100).toFixed(0)}%`).join(', ')} of ` +
        'its frames sent): it is saturated itself, and its delay is in those latency figures; use fewer calls or more cores',
    );
}

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/**
 * `--pin`: the last core for the server, the others for this process; undefined when the machine
 * has one core or no taskset.
 */
function pinCores() {
  const cores = availableParallelism();
  if (cores < 2 || spawnSync('taskset', ['-p', '-c', `0-${cores - 2}`, String(process.pid)]).status !== 0)
    return undefined;
  return String(cores - 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // the floor, Twilio's sample and voice-agent, one after the other (or --together), for --rounds rounds
  const options = {
    calls: Number(flag('calls', 50)),
    seconds: Number(flag('seconds', 15)),
    quiet: true,
  };
  const workers = Number(flag('workers', 1));
  // --pin: every system's server on the same core(s), part of each system's spec
  const serverCpus = process.argv.includes('--pin') ? pinCores() : undefined;
  // --baseline DIR: another built checkout of voice-agent (say, the previous commit) in every round
  const baseline = flag('baseline', undefined);
  // --records: voice-agent keeps call records and recordings (the memory a recorded call costs)
  const records = process.argv.includes('--records');
  const ours = { name: 'voice-agent', spec: { workers, serverCpus, records }, results: [] };
  const sample = process.argv.includes('--no-sample')
    ? undefined
    : { name: 'Twilio sample', spec: { system: 'sample', serverCpus }, results: [] };
  const systems = [
    ours,
    ...(sample ? [sample] : []),
    ...(baseline
      ? [{ name: 'baseline', spec: { workers, serverCpus, root: baseline, records }, results: [] }]
      : []),
  ];
  const relay = { system: 'relay', serverCpus };
  const floors = [];
  const rounds = Number(flag('rounds', 1));
  // --together: in each round every system runs at the same time (each with --calls calls, on the
  // same cores), so they are measured over the same window; else one after the other
  const together = process.argv.includes('--together');
  for (let round = 0; round < rounds; round++) {
    // every other round runs in the opposite order (relay first, then relay last), so a run's
    // place in the sequence (or, together, in each tick) does not favour one system
    const specs = [relay, ...systems.map((system) => system.spec)];
    const order = round % 2 === 0 ? specs : [...specs].reverse();
    let results = [];
    if (together) results = await runTogether(order, options);
    else for (const spec of order) results.push(await runLoad({ ...options, ...spec }));
    const inOrder = round % 2 === 0 ? results : [...results].reverse();
    floors.push(inOrder[0]);
    for (const [i, system] of systems.entries()) system.results.push(inOrder[i + 1]);
  }
  printResults(floors.flatMap((floor, i) => [floor, ...systems.map((system) => system.results[i])]));
  // each round's ratio to a reference of the same round (the machine drifts between rounds), then
  // the median of those ratios (and their range, for CPU)
  const perRound = (runs, refs, key) => runs.map((run, i) => run[key] / refs[i][key]).sort((a, b) => a - b);
  const median = (sorted) => {
    const middle = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const many = floors.length > 1;
  const ofRounds = many ? ` (median of ${floors.length} rounds)` : '';
  const compare = (name, runs, refName, refs) => {
    const ratio = (key) => `${median(perRound(runs, refs, key)).toFixed(2)}×`;
    const range = (key) => {
      const sorted = perRound(runs, refs, key);
      return many ? ` (${sorted[0].toFixed(2)}–${sorted.at(-1).toFixed(2)})` : '';
    };
    console.log(
      `${name} vs the ${refName}${ofRounds}: CPU per frame ${ratio('usPerFrame')}${range('usPerFrame')}` +
        `, in user space ${ratio('userUsPerFrame')}${range('userUsPerFrame')}` +
        `, p99 in ${ratio('inP99')}, p99 out ${ratio('outP99')}` +
        (serverCpus ? ` (server pinned to core ${serverCpus})` : '') +
        (together ? ', systems run together' : ''),
    );
  };
  for (const system of systems) compare(system.name, system.results, 'bare relay', floors);
  if (sample) compare(ours.name, ours.results, sample.name, sample.results);
}
