import type { CallEventBody } from './call-events.js';
import { OutboundAudio } from './outbound-audio.js';
import { PlaybackTracker } from './playback.js';
import type { CallAudioTap, MediaStreamPort, ModelEvent, ModelSession, UnheardItem } from './ports.js';

export interface AgentSpeechOptions {
  media: MediaStreamPort;
  model: ModelSession;
  /** Monotonic milliseconds. */
  now(): number;
  emit(event: CallEventBody): void;
  /** turn_detection.interrupt_response: caller speech cuts the agent off. */
  bargeIn: boolean;
  tap?: CallAudioTap;
}

/**
 * What the agent says and what the caller hears of it: model audio forwarded to the phone
 * ({@link OutboundAudio}), tracked until heard ({@link PlaybackTracker}), and cut on barge-in. Reports
 * the agent's speech as events: when it starts being sent, when it has all been heard (or cut).
 */
export class AgentSpeech {
  readonly #o: AgentSpeechOptions;
  readonly #playback = new PlaybackTracker();
  readonly #outbound: OutboundAudio;
  /** Responses silenced by a barge-in: their late deltas are dropped. */
  readonly #silenced = new Set<string>();
  /** The last response whose audio was let through: its next deltas skip the set. */
  #audible: string | undefined;
  #runningResponse: string | undefined;
  /** The agent item being spoken (a new one, or speech after a pause, starts agent speech). */
  #speakingItem: string | undefined;
  #responseHadAudio = false;

  constructor(options: AgentSpeechOptions) {
    this.#o = options;
    this.#outbound = new OutboundAudio(options.media, this.#playback, options.now, options.tap);
  }

  /** Nothing is playing at the phone or waiting to be sent. */
  get silent(): boolean {
    return !this.#playback.playing && !this.#outbound.buffering;
  }

  /**
   * When the model's audio was last passed on to the phone (monotonic ms; -∞: never): the call's
   * idle check reads it, so a chunk costs one clock reading, not two.
   */
  get lastAudioAt(): number {
    return this.#outbound.lastAudioAt;
  }

  /** The running response has sent audio. */
  get responseHadAudio(): boolean {
    return this.#responseHadAudio;
  }

  /** Model audio (hot path). Dropped when it belongs to a response the caller cut off. */
  audio(event: Extract<ModelEvent, { type: 'audio' }>): void {
    if (event.responseId !== this.#audible) {
      if (this.#silenced.has(event.responseId)) return;
      this.#audible = event.responseId;
    }
    if (event.itemId !== this.#speakingItem) {
      this.#speakingItem = event.itemId;
      this.#o.emit({ type: 'agent_speech_started', itemId: event.itemId });
    }
    this.#responseHadAudio = true;
    this.#outbound.delta(event.responseId, event.itemId, event.contentIndex, event.chunk);
  }

  responseStarted(responseId: string): void {
    this.#runningResponse = responseId;
    this.#responseHadAudio = false;
  }

  /** An item's audio is complete: send what is still held back. */
  audioDone(responseId: string): void {
    if (!this.#silenced.has(responseId)) this.#outbound.flush();
  }

  /** The response is over, and so is its audio: an adapter that skipped `audio_done` leaves none unmarked. */
  responseDone(responseId: string): void {
    this.#runningResponse = undefined;
    this.audioDone(responseId);
  }

  /** Sends whatever small audio is held back (the call is finishing). */
  flush(): void {
    this.#outbound.flush();
  }

  /** Twilio played the audio before this mark; when nothing is left, the agent stopped speaking. */
  played(mark: string): void {
    const wasSpeaking = this.#playback.playing;
    this.#playback.markEchoed(mark, this.#o.now());
    if (!wasSpeaking || !this.silent || this.#speakingItem === undefined) return;
    const itemId = this.#speakingItem;
    this.#speakingItem = undefined;
    this.#o.emit({ type: 'agent_speech_stopped', itemId, interrupted: false });
  }

  /**
   * Caller speech while the agent is talking (barge-in on): stop what the caller hears at once, then
   * make the model forget what was not heard. The server cancels the running response itself
   * (`interrupt_response`), so any of its deltas still on the wire are dropped here. Returns what
   * was cut.
   */
  bargeIn(lagMs?: number): UnheardItem[] {
    if (!this.#o.bargeIn) return []; // barge-in off: the agent finishes speaking
    return this.cut(lagMs);
  }

  /** Stops the agent's speech now, barge-in or not (an answering machine took the call). */
  cut(lagMs?: number): UnheardItem[] {
    this.#audible = undefined;
    if (this.#runningResponse) this.#silenced.add(this.#runningResponse);
    const now = this.#o.now();
    if (!this.silent) {
      this.#o.media.sendClear();
      this.#o.tap?.cleared(now);
      this.#outbound.drop();
    }
    // also audio that never played (dropped for a stalled reader): the model must not think it was said
    const cuts = this.#playback.interrupt(now);
    for (const cut of cuts) this.#silenced.add(cut.responseId);
    const speaking = this.#speakingItem;
    this.#speakingItem = undefined;
    if (cuts.length === 0) return cuts;
    this.#o.model.forgetUnheard(cuts);
    if (speaking !== undefined)
      this.#o.emit({ type: 'agent_speech_stopped', itemId: speaking, interrupted: true });
    this.#o.emit({
      type: 'barge_in',
      cut: cuts.map((c) => ({ itemId: c.itemId, heardMs: c.audioEndMs })),
      ...(lagMs === undefined ? {} : { stopMs: lagMs }),
    });
    return cuts;
  }

  /** Sounds that are not the model's (keypad tones): sent after what is queued, recorded, not tracked. */
  playTones(audio: Buffer): void {
    this.#outbound.flush();
    const base64 = audio.toString('base64');
    if (this.#o.media.sendMedia(base64)) this.#o.tap?.agent(base64, this.#o.now());
  }

  /** The model session was replaced: what was already sent keeps playing, its items cannot be cut. */
  modelReplaced(): void {
    this.#outbound.drop();
    this.#playback.forgetItems();
    this.#runningResponse = undefined;
  }
}
