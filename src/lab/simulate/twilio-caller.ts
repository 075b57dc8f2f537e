import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { isBase64 } from '../../audio/base64.js';
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE } from '../../audio/mulaw.js';
import { signTwilioRequest } from '../../telephony/twilio/signature.js';
import { PlaybackClock } from './playback-clock.js';
import { type NextStep, nextStep } from './twiml-reader.js';

/**
 * A caller that behaves like Twilio: signed webhook with realistic parameters, TwiML read like
 * Twilio reads it, a signed WebSocket upgrade to the `<Stream url>`, `connected` / `start` (with the
 * `<Parameter>`s) / `media` frames of 160 bytes every 20 ms with string counters, marks echoed when
 * the agent's audio would have finished playing, `clear` honoured, `stop` at hang-up, and the
 * `<Connect action>` URL requested when the stream closes. Used by `voice-agent simulate` and tests.
 */

export interface TwilioCallerOptions {
  /** The webhook URL as configured at Twilio, e.g. `https://host/voice/incoming`. */
  webhookUrl: string;
  /** Signs requests like Twilio; undefined sends them unsigned. */
  authToken: string | undefined;
  from?: string;
  to?: string;
  /** 1 = real time; 4 = four times faster (frames every 5 ms). */
  speed?: number;
  /** Maps a public URL to where this process can reach it (tunnels, reverse proxies). */
  reach?: (publicUrl: string) => string;
  /** Omit frames of silence, like calls that suppress silence (exercises the gap path). */
  suppressSilence?: boolean;
  /** false: never answer the server's pings, like a connection that died without a FIN. */
  answerPings?: boolean;
  /** Network delay (wall ms) before a reached mark's echo is sent, like a real phone leg. */
  markEchoDelayMs?: number;
  /** Wall ms between the webhook's answer and opening the stream (Twilio takes a moment too). */
  streamDelayMs?: number;
  /** Observes the call as it happens (progress display, reports). */
  onEvent?: (event: CallerEvent) => void;
  /** An outbound call Twilio placed (its CallSid from the Calls API): `Direction: outbound-api`. */
  placed?: { callSid: string };
}

export type CallerEvent =
  | { type: 'stream-started'; atMs: number }
  | { type: 'agent-audio'; atMs: number; bytes: number }
  | { type: 'clear'; atMs: number; heardMs: number }
  | { type: 'stream-closed'; atMs: number; by: 'server' | 'caller' }
  | { type: 'next-step'; atMs: number; step: NextStep };

export class CallFailedError extends Error {
  readonly code = 'call_failed';
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class TwilioCaller {
  readonly callSid: string;
  readonly accountSid = sid('AC');
  readonly streamSid = sid('MZ');
  /** Outbound messages the server sent us, in order (media payloads are counted, not kept). */
  readonly received: { event: string; name?: string }[] = [];
  readonly clears: { atMs: number; heardMs: number }[] = [];
  readonly marksEchoed: string[] = [];
  /** Frames Twilio would reject (error 31924); the caller closes the stream on the first one. */
  readonly violations: string[] = [];
  readonly #o: TwilioCallerOptions;
  readonly #speed: number;
  readonly #t0 = performance.now();
  readonly playback: PlaybackClock;
  /** Call time at which the stream started (after `start` was sent). */
  streamStartedAt: number | undefined;
  #ws: WebSocket | undefined;
  #actionUrl: string | undefined;
  #seq = 0;
  #chunk = 0;
  #mediaMs = 0;
  #outcome: Promise<NextStep> | undefined;
  #resolveClosed!: (by: 'server' | 'caller') => void;
  readonly #closed = new Promise<'server' | 'caller'>((resolve) => {
    this.#resolveClosed = resolve;
  });
  #hungUp = false;
  #lastAgentAudioAt = 0;
  #lastCallerSpeechAt = 0;

  constructor(options: TwilioCallerOptions) {
    this.#o = options;
    this.callSid = options.placed?.callSid ?? sid('CA');
    this.#speed = options.speed ?? 1;
    this.playback = new PlaybackClock({
      speed: this.#speed,
      now: () => this.now(),
      onMark: (name) => {
        const delay = options.markEchoDelayMs ?? 0;
        if (delay > 0) setTimeout(() => this.#echoMark(name), delay);
        else this.#echoMark(name);
      },
    });
  }

  /** Call time in ms (wall time × speed) since the caller was created. */
  now(): number {
    return (performance.now() - this.#t0) * this.#speed;
  }

  /** Places the call: webhook, TwiML, signed upgrade, `connected` + `start`. */
  async dial(): Promise<void> {
    let step: NextStep;
    try {
      step = nextStep(await this.#post(this.#o.webhookUrl, { CallStatus: 'ringing' }));
      if (step.kind !== 'connect-stream') {
        throw new CallFailedError(`the webhook did not answer with <Connect><Stream> (got ${step.kind})`);
      }
    } catch (error) {
      // no stream will ever open: the call is over before it started
      const message = error instanceof Error ? error.message : String(error);
      this.#outcome = Promise.resolve({ kind: 'error', message });
      this.#resolveClosed('server');
      throw error instanceof CallFailedError ? error : new CallFailedError(message);
    }
    this.#actionUrl = step.actionUrl;
    const headers: Record<string, string> = {};
    if (this.#o.authToken)
      headers['x-twilio-signature'] = signTwilioRequest(this.#o.authToken, step.streamUrl, {});
    if (this.#o.streamDelayMs) await new Promise((resolve) => setTimeout(resolve, this.#o.streamDelayMs));
    const ws = new WebSocket(this.#reach(step.streamUrl), {
      headers,
      perMessageDeflate: false,
      autoPong: this.#o.answerPings ?? true,
    });
    this.#ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new CallFailedError(`the media stream upgrade was refused with HTTP ${res.statusCode}`));
      });
      ws.once('error', (err) => reject(new CallFailedError(`cannot open the media stream: ${err.message}`)));
    }).catch(async (error) => {
      this.#resolveClosed('server');
      this.#outcome = this.#followAction();
      throw error;
    });
    ws.on('message', (data) => this.#onServerMessage(data.toString()));
    ws.on('close', () => {
      this.playback.stop();
      const by = this.#hungUp ? 'caller' : 'server';
      this.#o.onEvent?.({ type: 'stream-closed', atMs: this.now(), by });
      this.#resolveClosed(by);
      // Twilio requests the action URL only when the call is still up (the server ended the stream)
      this.#outcome ??=
        by === 'server' ? this.#followAction() : Promise.resolve({ kind: 'hangup' } as NextStep);
    });
    this.#send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.#send({
      event: 'start',
      sequenceNumber: this.#nextSeq(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: step.parameters,
      },
      streamSid: this.streamSid,
    });
    this.streamStartedAt = this.now();
    this.#o.onEvent?.({ type: 'stream-started', atMs: this.streamStartedAt });
  }

  /** Sends caller audio in 20 ms frames at the call's pace; resolves when it has all been sent. */
  async speak(audio: Buffer): Promise<void> {
    for (let offset = 0; offset < audio.length && this.open; offset += FRAME_BYTES) {
      let frame = audio.subarray(offset, offset + FRAME_BYTES);
      if (frame.length < FRAME_BYTES)
        frame = Buffer.concat([frame, Buffer.alloc(FRAME_BYTES - frame.length, MULAW_SILENCE)]);
      await this.#frame(frame);
    }
    this.#lastCallerSpeechAt = this.now();
  }

  /** Silence for `ms` (frames of 0xFF, or nothing at all when suppressing silence). */
  async pause(ms: number): Promise<void> {
    const frame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
    for (let t = 0; t < ms && this.open; t += FRAME_MS) {
      if (this.#o.suppressSilence) {
        this.#mediaMs += FRAME_MS;
        await this.#tick();
      } else {
        await this.#frame(frame);
      }
    }
  }

  /**
   * Keeps the line open with silence until the agent has answered the caller's last speech (or
   * greeted): its audio arrived after that speech, has played, and nothing new came for `quietMs`.
   * Resolves false on timeout or when the stream closed.
   */
  async waitForAgent(options: {
    quietMs?: number;
    timeoutMs: number;
    startWithinMs?: number;
  }): Promise<boolean> {
    const quietMs = options.quietMs ?? 600;
    const started = this.now();
    const deadline = started + options.timeoutMs * this.#speed;
    while (this.open && this.now() < deadline) {
      const answered = this.#lastAgentAudioAt > this.#lastCallerSpeechAt;
      if (
        !answered &&
        options.startWithinMs !== undefined &&
        this.now() - started > options.startWithinMs * this.#speed
      ) {
        return false; // the agent is not going to speak
      }
      const quietSince = Math.max(this.#lastAgentAudioAt, this.playback.endsAtMs);
      if (answered && !this.playback.playing && this.now() - quietSince >= quietMs) return true;
      await this.pause(FRAME_MS);
    }
    return false;
  }

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Resolves when the stream is closed, by either side. */
  closed(): Promise<'server' | 'caller'> {
    return this.#closed;
  }

  /** The caller hangs up: `stop`, then the socket closes. No action request follows. */
  async hangUp(): Promise<void> {
    if (this.open) {
      this.#hungUp = true;
      this.#send({
        event: 'stop',
        sequenceNumber: this.#nextSeq(),
        stop: { accountSid: this.accountSid, callSid: this.callSid },
        streamSid: this.streamSid,
      });
      this.#ws!.close(1000);
    }
    await this.#closed;
  }

  /**
   * The call was redirected over REST (`calls(sid).update({twiml})`): like real Twilio, the stream
   * gets a `stop` and closes, and the call goes on with that TwiML — the abandoned `<Connect>`'s
   * action URL is not requested.
   */
  async redirect(twiml: string): Promise<void> {
    if (!this.open) return;
    this.#outcome = Promise.resolve(nextStep(twiml));
    await this.hangUp();
  }

  /** How the call continued after the stream: what the `<Connect action>` URL answered. */
  async outcome(): Promise<NextStep> {
    await this.#closed;
    return this.#outcome ?? { kind: 'hangup' };
  }

  /** Stops (or resumes) reading the stream, like a phone leg whose network stalled. */
  stallReading(stalled: boolean): void {
    const socket = (this.#ws as unknown as { _socket?: { pause(): void; resume(): void } } | undefined)
      ?._socket;
    if (stalled) socket?.pause();
    else socket?.resume();
  }

  /** Sends a raw frame (tests use this to misbehave on purpose). */
  sendRaw(data: string | Buffer): void {
    this.#ws?.send(data);
  }

  /** Sends a keypad digit. */
  pressKey(digit: string): void {
    this.#send({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: this.#nextSeq(),
      dtmf: { track: 'inbound_track', digit },
    });
  }

  async #frame(frame: Buffer): Promise<void> {
    this.#send({
      event: 'media',
      sequenceNumber: this.#nextSeq(),
      media: {
        track: 'inbound',
        chunk: String(++this.#chunk),
        timestamp: String(this.#mediaMs),
        payload: frame.toString('base64'),
      },
      streamSid: this.streamSid,
    });
    this.#mediaMs += FRAME_MS;
    await this.#tick();
  }

  /** Waits until call time reaches the media clock (drift-free 20 ms cadence). */
  #tick(): Promise<void> {
    const aheadMs = (this.#mediaMs - this.now()) / this.#speed;
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, aheadMs)));
  }

  #violation(reason: string): void {
    this.violations.push(reason);
    this.#ws?.close(1008, 'protocol error');
  }

  #onServerMessage(text: string): void {
    let message: {
      event?: string;
      streamSid?: string;
      media?: { payload?: string };
      mark?: { name?: string };
    };
    try {
      message = JSON.parse(text);
    } catch {
      return this.#violation('the server sent a frame that is not JSON (Twilio error 31924)');
    }
    if (message.streamSid !== this.streamSid) {
      return this.#violation(
        `the server sent a frame without this stream's streamSid (31924): ${text.slice(0, 80)}`,
      );
    }
    switch (message.event) {
      case 'media': {
        const payload = message.media?.payload;
        if (typeof payload !== 'string' || !isBase64(payload)) {
          return this.#violation('media without a base64 payload (Twilio error 31924)');
        }
        const audio = Buffer.from(payload, 'base64');
        this.received.push({ event: 'media' });
        this.#lastAgentAudioAt = this.now();
        this.playback.enqueue(audio);
        this.#o.onEvent?.({ type: 'agent-audio', atMs: this.now(), bytes: audio.length });
        return;
      }
      case 'mark':
        if (typeof message.mark?.name !== 'string')
          return this.#violation('mark without mark.name (Twilio error 31924)');
        this.received.push({ event: 'mark', name: message.mark.name });
        this.playback.mark(message.mark.name);
        return;
      case 'clear': {
        this.received.push({ event: 'clear' });
        const heardMs = this.playback.heardMs();
        this.clears.push({ atMs: this.now(), heardMs });
        this.#o.onEvent?.({ type: 'clear', atMs: this.now(), heardMs });
        this.playback.clear();
        return;
      }
      default:
        return this.#violation(
          `unknown event from the server (Twilio error 31924): ${String(message.event)}`,
        );
    }
  }

  #echoMark(name: string): void {
    this.marksEchoed.push(name);
    if (this.open)
      this.#send({
        event: 'mark',
        sequenceNumber: this.#nextSeq(),
        streamSid: this.streamSid,
        mark: { name },
      });
  }

  async #followAction(): Promise<NextStep> {
    if (!this.#actionUrl) return { kind: 'hangup' };
    let step: NextStep;
    try {
      step = nextStep(await this.#post(this.#actionUrl, { CallStatus: 'in-progress' }));
    } catch (error) {
      // Twilio would play its own "application error" message here
      step = { kind: 'error', message: (error as Error).message };
    }
    this.#o.onEvent?.({ type: 'next-step', atMs: this.now(), step });
    return step;
  }

  async #post(url: string, extra: Record<string, string>): Promise<string> {
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: this.callSid,
      Called: this.#o.to ?? '+15005550006',
      Caller: this.#o.from ?? '+15551230000',
      Direction: this.#o.placed ? 'outbound-api' : 'inbound',
      From: this.#o.from ?? '+15551230000',
      To: this.#o.to ?? '+15005550006',
      ...extra,
    };
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'TwilioProxy/1.1',
    };
    if (this.#o.authToken) headers['x-twilio-signature'] = signTwilioRequest(this.#o.authToken, url, params);
    let res: Response;
    try {
      res = await fetch(this.#reach(url), { method: 'POST', headers, body: new URLSearchParams(params) });
    } catch (error) {
      throw new CallFailedError(`cannot reach ${url}: ${(error as Error).message}`);
    }
    const body = await res.text();
    if (!res.ok)
      throw new CallFailedError(`${url} answered HTTP ${res.status}: ${body.trim().slice(0, 200)}`);
    return body;
  }

  #reach(url: string): string {
    return this.#o.reach ? this.#o.reach(url) : url;
  }

  #nextSeq(): string {
    return String(++this.#seq);
  }

  #send(message: unknown): void {
    if (this.open) this.#ws!.send(JSON.stringify(message));
  }
}
