import type { CallEvent } from '../bridge/call-events.js';
import type { CallOutcome, ModelUsage, ToolErrorCode } from '../bridge/ports.js';
import type { PostCallResult } from './post-call.js';
import { addUsage, type CallCost, costOf, emptyUsage, type Prices } from './pricing.js';

/** One line of the transcript, on the call's timeline (ms since the call started). */
export interface TranscriptLine {
  role: 'caller' | 'agent';
  text: string;
  startMs: number;
  endMs: number;
  /** The agent was cut off; `heardMs` of this line's audio reached the caller. */
  interrupted?: boolean;
  heardMs?: number;
}

export interface RecordedToolCall {
  name: string;
  callId: string;
  arguments: string;
  output: string;
  ok: boolean;
  /** Why it failed (`timeout`, `unreachable`, `tool_error`…), when it did. */
  errorCode?: ToolErrorCode;
  atMs: number;
  durationMs: number;
}

/** Everything kept about one call: the JSON behind `calls show`, the calls page and exports. */
export interface CallRecord {
  version: 1;
  callSid: string;
  streamSid: string;
  agent: { name: string; hash: string; model: string };
  from?: string;
  to?: string;
  /** The agent placed the call (absent: the call came in). */
  direction?: 'outbound';
  /** An outbound call's answering-machine detection. */
  answeredBy?: 'human' | 'machine' | 'fax' | 'unknown';
  simulated: boolean;
  /** ISO 8601 wall-clock times. */
  startedAt: string;
  endedAt?: string;
  durationMs: number;
  outcome: CallOutcome | { kind: 'in_progress'; reason: string };
  transcript: TranscriptLine[];
  /** Who spoke when (speech spans, including speech nobody transcribed). */
  speech: { role: 'caller' | 'agent'; startMs: number; endMs: number; interrupted?: boolean }[];
  toolCalls: RecordedToolCall[];
  /** Messages the caller left (take_message). */
  messages: { atMs: number; name: string; phone: string; message: string }[];
  bargeIns: { atMs: number; heardMs: number }[];
  latency: { greetingMs?: number; turns: { atMs: number; ms: number }[]; p50Ms?: number; maxMs?: number };
  reconnects: { atMs: number; reason: string; gapMs: number }[];
  warnings: { atMs: number; message: string }[];
  usage: ModelUsage & { responses: number };
  cost: CallCost;
  /** The recording, when one was kept: a stereo WAV, caller left, agent right. */
  audio?: { file: string; durationMs: number };
  /** The `post_call` schema filled from this record after the call (or why it could not be). */
  postCall?: PostCallResult;
  /** A voicemail the caller left after an unanswered transfer (Twilio keeps the recording). */
  voicemail?: Voicemail;
}

export interface Voicemail {
  recordingUrl?: string;
  seconds?: number;
  /** Twilio's transcription, when it has come (`transcriptStatus: completed`). */
  transcript?: string;
  transcriptStatus?: string;
}

export interface RecordContext {
  agent: { name: string; hash: string; model: string; transcriptionModel: string };
  simulated: boolean;
  prices: Prices | undefined;
  transcriptionPerMinute: number | undefined;
  /** Replace what was said and tool payloads by their lengths (records.redact). */
  redact: boolean;
  /** Tools whose payloads stay out of records (tool_settings.redact). */
  redactTool?: (name: string) => boolean;
  /** Wall-clock ms, injectable for tests. */
  now?: () => number;
}

/**
 * Builds a call's record from its event stream, in order, and nothing else (no reading of a live
 * session). Cheap per event: arrays grow, nothing is written here — the store does that off the call.
 */
export class RecordBuilder {
  readonly #c: RecordContext;
  readonly record: CallRecord;
  #startedAtMs = 0;
  #callerOpen: number | undefined;
  #agentOpen: { itemId: string; startMs: number } | undefined;
  /** Agent speech spans by item, for the agent's transcript lines. */
  readonly #agentItems = new Map<string, { startMs: number; endMs?: number; heardMs?: number }>();
  /** Caller speech spans not transcribed yet (transcripts arrive after their turn). */
  readonly #callerSpans: { startMs: number; endMs: number }[] = [];

  /** Where this leg's events sit on the call's timeline (a call back with the agent after a transfer). */
  readonly #offsetMs: number = 0;

  /**
   * `continuing`: the record of the same call's earlier leg (the caller is back with the agent after
   * an unanswered transfer): this leg's events are added to it, on the call's timeline.
   */
  constructor(context: RecordContext, callSid: string, continuing?: CallRecord) {
    this.#c = context;
    const now = context.now?.() ?? Date.now();
    if (continuing) {
      this.#startedAtMs = Date.parse(continuing.startedAt);
      this.#offsetMs = Math.max(0, now - this.#startedAtMs);
      this.record = continuing;
      this.record.outcome = { kind: 'in_progress', reason: 'the call is live' };
      delete this.record.endedAt;
      return;
    }
    this.#startedAtMs = now;
    this.record = {
      version: 1,
      callSid,
      streamSid: '',
      agent: { name: context.agent.name, hash: context.agent.hash, model: context.agent.model },
      simulated: context.simulated,
      startedAt: new Date(now).toISOString(),
      durationMs: 0,
      outcome: { kind: 'in_progress', reason: 'the call is live' },
      transcript: [],
      speech: [],
      toolCalls: [],
      messages: [],
      bargeIns: [],
      latency: { turns: [] },
      reconnects: [],
      warnings: [],
      usage: { ...emptyUsage(), responses: 0 },
      cost: { currency: 'USD', total: undefined, model: undefined, transcription: undefined },
    };
  }

  get ended(): boolean {
    return this.record.endedAt !== undefined;
  }

  add(event: CallEvent): void {
    const r = this.record;
    const at = event.atMs + this.#offsetMs;
    switch (event.type) {
      case 'started':
        r.streamSid = event.streamId;
        if (event.from) r.from = event.from;
        if (event.to) r.to = event.to;
        if (event.direction === 'outbound') r.direction = 'outbound';
        return;
      case 'answered_by':
        r.answeredBy = event.by;
        return;
      case 'caller_speech_started':
        this.#callerOpen ??= at;
        return;
      case 'caller_speech_stopped':
        if (this.#callerOpen === undefined) return;
        r.speech.push({ role: 'caller', startMs: this.#callerOpen, endMs: at });
        this.#callerSpans.push({ startMs: this.#callerOpen, endMs: at });
        this.#callerOpen = undefined;
        return;
      case 'agent_speech_started':
        this.#closeAgent(at, false);
        this.#agentOpen = { itemId: event.itemId, startMs: at };
        if (!this.#agentItems.has(event.itemId)) this.#agentItems.set(event.itemId, { startMs: at });
        return;
      case 'agent_speech_stopped':
        if (this.#agentOpen?.itemId === event.itemId) this.#closeAgent(at, event.interrupted);
        return;
      case 'transcript':
        this.#transcript(event.role, event.text, at, event.itemId);
        return;
      case 'barge_in':
        for (const cut of event.cut) {
          r.bargeIns.push({ atMs: at, heardMs: cut.heardMs });
          const item = this.#agentItems.get(cut.itemId);
          if (item) item.heardMs = cut.heardMs;
          const line = r.transcript.find((l) => l.role === 'agent' && l.startMs === item?.startMs);
          if (line) Object.assign(line, { interrupted: true, heardMs: cut.heardMs });
        }
        return;
      case 'tool_call':
        r.toolCalls.push({
          name: event.name,
          callId: event.callId,
          arguments: this.#redact(event.arguments, this.#c.redactTool?.(event.name)),
          output: this.#redact(event.output, this.#c.redactTool?.(event.name)),
          ok: event.ok,
          ...(event.code ? { errorCode: event.code } : {}),
          atMs: at - event.durationMs,
          durationMs: event.durationMs,
        });
        return;
      case 'message_taken':
        r.messages.push({
          atMs: at,
          name: this.#redact(event.name),
          phone: this.#redact(event.phone),
          message: this.#redact(event.message),
        });
        return;
      case 'latency':
        if (event.kind === 'greeting') r.latency.greetingMs = event.ms;
        else r.latency.turns.push({ atMs: at, ms: event.ms });
        return;
      case 'usage':
        addUsage(r.usage, event.usage);
        r.usage.responses++;
        return;
      case 'model_resumed':
        r.reconnects.push({ atMs: at, reason: event.reason, gapMs: event.gapMs });
        return;
      case 'warning':
        r.warnings.push({ atMs: at, message: event.message });
        return;
      case 'ended':
        this.#closeAgent(at, false);
        if (this.#callerOpen !== undefined) {
          r.speech.push({ role: 'caller', startMs: this.#callerOpen, endMs: at });
          this.#callerOpen = undefined;
        }
        r.outcome = event.outcome;
        r.durationMs = event.durationMs + this.#offsetMs;
        r.endedAt = new Date(this.#startedAtMs + r.durationMs).toISOString();
        this.#finish();
        return;
      case 'state':
        return;
    }
  }

  #closeAgent(at: number, interrupted: boolean): void {
    const open = this.#agentOpen;
    if (!open) return;
    this.#agentOpen = undefined;
    this.record.speech.push({
      role: 'agent',
      startMs: open.startMs,
      endMs: at,
      ...(interrupted ? { interrupted } : {}),
    });
    const item = this.#agentItems.get(open.itemId);
    if (item) item.endMs = at;
    const line = this.record.transcript.find((l) => l.role === 'agent' && l.startMs === item?.startMs);
    if (line) line.endMs = at;
  }

  #transcript(role: 'caller' | 'agent', text: string, at: number, itemId: string | undefined): void {
    let startMs = at;
    let endMs = at;
    if (role === 'caller') {
      // a caller's transcript follows their turn: it belongs to the oldest turn not transcribed
      const span = this.#callerSpans.shift();
      if (span) ({ startMs, endMs } = span);
    } else if (itemId) {
      const item = this.#agentItems.get(itemId);
      if (item) {
        startMs = item.startMs;
        endMs = item.endMs ?? at;
      }
    }
    const line: TranscriptLine = { role, text: this.#redact(text), startMs, endMs };
    const heard = itemId ? this.#agentItems.get(itemId)?.heardMs : undefined;
    if (heard !== undefined) Object.assign(line, { interrupted: true, heardMs: heard });
    // keep the transcript in the order things were said
    const transcript = this.record.transcript;
    let i = transcript.length;
    while (i > 0 && transcript[i - 1]!.startMs > startMs) i--;
    transcript.splice(i, 0, line);
  }

  #finish(): void {
    const r = this.record;
    const turns = r.latency.turns.map((t) => t.ms).sort((a, b) => a - b);
    if (turns.length) {
      r.latency.p50Ms = turns[Math.floor((turns.length - 1) / 2)];
      r.latency.maxMs = turns.at(-1);
    }
    const callerSpeechMs = r.speech
      .filter((s) => s.role === 'caller')
      .reduce((sum, s) => sum + (s.endMs - s.startMs), 0);
    r.cost = costOf({
      usage: r.usage,
      prices: this.#c.prices,
      callerSpeechMs,
      transcriptionPerMinute: this.#c.transcriptionPerMinute,
      sessionMs: r.durationMs,
    });
  }

  #redact(text: string, also = false): string {
    return this.#c.redact || also ? redacted(text) : text;
  }
}

/** What records keep of a text they must not keep (records.redact): its length. */
export function redacted(text: string): string {
  return `[${text.length} chars redacted]`;
}
