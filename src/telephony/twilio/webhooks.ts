import express, { type NextFunction, type Request, type Response } from 'express';
import type { CallOutcome } from '../../bridge/call-outcome.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { maskNumber } from '../../observability/mask.js';
import { type AnsweredBy, answeredByOf } from './outbound-call.js';
import { VOICE_ROUTES as ROUTES, streamUrl } from './routes.js';
import { isValidWebhookSignature } from './signature.js';
import {
  connectStreamTwiml,
  dialTwiml,
  type Fallback,
  fallbackTwiml,
  goodbyeTwiml,
  hangupTwiml,
  voicemailTwiml,
  whisperTwiml,
} from './twiml.js';

/** Who called whom, as Twilio says (E.164, or a word such as `anonymous` for a withheld number). */
export interface CallParties {
  from?: string;
  to?: string;
}

/** What the webhooks need from the server that takes the calls. */
export interface WebhookCalls {
  /**
   * Admits an incoming call and returns its one-time stream token: `repeated` for a CallSid already
   * known (a Twilio retry), which must open nothing new; `full` over `call.max_concurrent`.
   */
  admit(
    callSid: string,
    parties: CallParties,
    outbound?: { context: string },
  ): Promise<{ kind: 'admitted' | 'repeated'; token: string } | { kind: 'full'; live: number }>;
  /**
   * The caller is back from a transfer nobody answered: a new one-time token for the same call's
   * next stream, or undefined when the call cannot go back to the agent.
   */
  resume(callSid: string): Promise<string | undefined>;
  /** Who answered an outbound call (Twilio's asynchronous answering-machine detection). */
  answeredBy(callSid: string, by: AnsweredBy): Promise<void>;
  /** How the call's stream ended, for the `<Connect action>` URL (whichever process held it). */
  outcomeOf(callSid: string): Promise<CallOutcome>;
  /** While draining, new calls get the fallback instead of the agent. */
  draining(): boolean;
  /** A voicemail left after an unanswered transfer (its recording, then its transcription). */
  voicemail(callSid: string, voicemail: VoicemailReport): void;
}

/** What Twilio reports of a voicemail: the recording first, its transcription later. */
export interface VoicemailReport {
  recordingUrl?: string;
  seconds?: number;
  transcript?: string;
  transcriptStatus?: string;
}

export interface WebhookOptions {
  calls: WebhookCalls;
  logger: Logger;
  fallback: Fallback;
  /** When nobody answers a transfer: the caller leaves a voicemail, or is back with the agent. */
  afterUnansweredTransfer: 'message' | 'agent';
  twilioAuthToken: string;
  insecureSkipSignature: boolean;
  /** The public base URL (known only after listen when the port is 0). */
  publicUrl(): string;
}

/** Twilio CallSids are CA + 32 hex digits; accept the SID alphabet, as the media codec does. */
export const CALL_SID = /^CA[A-Za-z0-9]{2,62}$/;

/**
 * Twilio's voice webhooks, each signed (`X-Twilio-Signature` over the public URL): the incoming call
 * (TwiML that opens the Media Stream), the stream's end (what next: hang up, transfer, fallback),
 * a transfer's end, a recorded message and the number's status callback. One handler per route.
 */
export function twilioWebhooks(options: WebhookOptions): express.Router {
  const hooks = new TwilioWebhooks(options);
  const signed = (req: Request, res: Response, next: NextFunction) => hooks.signed(req, res, next);
  const router = express.Router();
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  router.post(ROUTES.incoming, signed, (req, res) => hooks.connect(req, res, undefined));
  // an outbound call placed with `voice-agent call` or POST /calls/outbound: its context is in the
  // signed URL, so any server that takes the call can read it
  router.post(ROUTES.outbound, signed, (req, res) =>
    hooks.connect(req, res, { context: typeof req.query.context === 'string' ? req.query.context : '' }),
  );
  router.post(ROUTES.answeredBy, signed, (req, res) => hooks.answeredBy(req, res));
  router.post(ROUTES.streamEnded, signed, (req, res) => hooks.streamEnded(req, res));
  router.post(ROUTES.whisper, signed, (req, res) => hooks.whisper(req, res));
  router.post(ROUTES.dialEnded, signed, (req, res) => hooks.dialEnded(req, res));
  router.post(ROUTES.messageRecorded, signed, (req, res) => hooks.messageRecorded(req, res));
  router.post(ROUTES.messageTranscribed, signed, (req, res) => hooks.messageTranscribed(req, res));
  router.post(ROUTES.status, signed, (req, res) => hooks.status(req, res));
  return router;
}

class TwilioWebhooks {
  readonly #o: WebhookOptions;

  constructor(options: WebhookOptions) {
    this.#o = options;
  }

  /** Lets a request through only with Twilio's signature for this URL. */
  signed(req: Request, res: Response, next: NextFunction): void {
    const o = this.#o;
    if (o.insecureSkipSignature) return next();
    const url = o.publicUrl() + req.originalUrl;
    const params = Object.fromEntries(
      Object.entries((req.body ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    if (isValidWebhookSignature(o.twilioAuthToken, req.header('x-twilio-signature'), url, params))
      return next();
    o.logger.warn(
      { path: req.path, signature: req.header('x-twilio-signature') ? 'invalid' : 'missing', ip: req.ip },
      'rejected a webhook that is not signed by Twilio for this URL (check --public-url)',
    );
    res.status(403).type('text/plain').send('Forbidden: invalid Twilio signature\n');
  }

  /** A call answered (incoming, or an outbound call picked up): the stream that connects it to the agent. */
  async connect(req: Request, res: Response, outbound: { context: string } | undefined): Promise<void> {
    const o = this.#o;
    const callSid = String(req.body?.CallSid ?? '');
    if (!CALL_SID.test(callSid)) {
      res.status(400).type('text/plain').send('Bad request: CallSid is missing or malformed\n');
      return;
    }
    const log = o.logger.child({ callSid });
    if (o.calls.draining()) {
      log.info('server is shutting down: answering with the fallback');
      twiml(res, fallbackTwiml(o.fallback));
      return;
    }
    let admission: Awaited<ReturnType<WebhookCalls['admit']>>;
    try {
      admission = await o.calls.admit(callSid, partiesOf(req.body), outbound);
    } catch (error) {
      // the shared call state is unreachable (the database is down): the caller still hears something
      log.error({ reason: errorMessage(error) }, 'could not admit the call: answering with the fallback');
      twiml(res, fallbackTwiml(o.fallback));
      return;
    }
    if (admission.kind === 'full') {
      log.warn({ live: admission.live }, 'call.max_concurrent reached: answering with the fallback');
      twiml(res, fallbackTwiml(o.fallback));
      return;
    }
    if (admission.kind === 'repeated')
      log.info('repeated webhook for a known call: same answer, nothing new opened');
    else if (outbound) log.info({ to: maskNumber(req.body?.To) }, 'outbound call answered');
    else log.info({ from: maskNumber(req.body?.From) }, 'incoming call');
    twiml(res, streamTwiml(o.publicUrl(), admission.token, callSid));
  }

  /** Asynchronous answering-machine detection: a person, or a machine whose greeting just ended. */
  async answeredBy(req: Request, res: Response): Promise<void> {
    const callSid = String(req.body?.CallSid ?? '');
    const by = answeredByOf(req.body?.AnsweredBy);
    this.#callLog(req).info(
      {
        answeredBy: String(req.body?.AnsweredBy ?? ''),
        detectionMs: Number(req.body?.MachineDetectionDuration) || undefined,
      },
      'answering-machine detection',
    );
    if (CALL_SID.test(callSid)) await this.#o.calls.answeredBy(callSid, by);
    res.status(204).end();
  }

  /** The `<Connect action>`: what next, from how the stream ended on whichever process held it. */
  async streamEnded(req: Request, res: Response): Promise<void> {
    const o = this.#o;
    const callSid = String(req.body?.CallSid ?? '');
    const outcome: CallOutcome = CALL_SID.test(callSid)
      ? await o.calls
          .outcomeOf(callSid)
          .catch((error): CallOutcome => ({ kind: 'failed', code: 'internal', reason: errorMessage(error) }))
      : { kind: 'failed', code: 'unknown_call', reason: 'unknown call' };
    this.#callLog(req).info({ outcome: outcome.kind }, 'stream ended; telling Twilio what next');
    twiml(res, nextStepTwiml(outcome, o.fallback, o.publicUrl()));
  }

  /** A warm transfer: the colleague who answers hears the summary first (the text is in the signed URL). */
  whisper(req: Request, res: Response): void {
    const say = typeof req.query.say === 'string' ? req.query.say.slice(0, MAX_WHISPER_CHARS) : '';
    twiml(res, whisperTwiml(say || 'The caller asked for a person.'));
  }

  /** A transfer's `<Dial action>`: if nobody answered, the caller is back with the agent or leaves a message. */
  async dialEnded(req: Request, res: Response): Promise<void> {
    const o = this.#o;
    const status = String(req.body?.DialCallStatus ?? '');
    if (status === 'completed' || status === 'answered') {
      this.#callLog(req).info('transfer completed');
      twiml(res, hangupTwiml());
      return;
    }
    const base = o.publicUrl();
    const callSid = String(req.body?.CallSid ?? '');
    const token =
      o.afterUnansweredTransfer === 'agent' && CALL_SID.test(callSid) && !o.calls.draining()
        ? await o.calls.resume(callSid).catch(() => undefined)
        : undefined;
    if (token) {
      this.#callLog(req).info(
        { dialStatus: status || 'unknown' },
        'transfer not answered; the caller is back with the agent',
      );
      twiml(res, streamTwiml(base, token, callSid));
      return;
    }
    this.#callLog(req).warn({ dialStatus: status || 'unknown' }, 'transfer failed; offering voicemail');
    twiml(res, voicemailTwiml(base + ROUTES.messageRecorded, base + ROUTES.messageTranscribed));
  }

  messageRecorded(req: Request, res: Response): void {
    const callSid = String(req.body?.CallSid ?? '');
    const recordingUrl = httpsUrl(req.body?.RecordingUrl);
    const seconds = Number(req.body?.RecordingDuration);
    this.#callLog(req).info(
      { seconds: Number.isFinite(seconds) ? seconds : undefined },
      'caller left a message',
    );
    if (CALL_SID.test(callSid) && recordingUrl)
      this.#o.calls.voicemail(callSid, { recordingUrl, ...(Number.isFinite(seconds) ? { seconds } : {}) });
    twiml(res, goodbyeTwiml('Thank you, we got your message. Goodbye.'));
  }

  /** The `<Record transcribeCallback>`: the message in words, some time after the call. */
  messageTranscribed(req: Request, res: Response): void {
    const callSid = String(req.body?.CallSid ?? '');
    const status = String(req.body?.TranscriptionStatus ?? '');
    const text =
      typeof req.body?.TranscriptionText === 'string' ? req.body.TranscriptionText.slice(0, 5_000) : '';
    this.#callLog(req).info({ status }, 'voicemail transcribed');
    if (CALL_SID.test(callSid))
      this.#o.calls.voicemail(callSid, {
        transcriptStatus: status || 'unknown',
        ...(status === 'completed' ? { transcript: text } : {}),
      });
    res.status(204).end();
  }

  /** The number's status callback (set by configure-number): how each call ended, for the log. */
  status(req: Request, res: Response): void {
    this.#callLog(req).info(
      { status: String(req.body?.CallStatus ?? ''), seconds: Number(req.body?.CallDuration ?? 0) },
      'call status',
    );
    res.status(204).end();
  }

  #callLog(req: Request): Logger {
    return this.#o.logger.child({ callSid: String(req.body?.CallSid ?? '') });
  }
}

function twiml(res: Response, body: string): void {
  res.type('text/xml').send(body);
}

/** What the caller gets once the stream is over. */
export function nextStepTwiml(outcome: CallOutcome, fallback: Fallback, publicUrl: string): string {
  switch (outcome.kind) {
    case 'completed':
      return hangupTwiml();
    case 'transfer':
      return transferTwiml(outcome, publicUrl);
    case 'failed':
      return fallbackTwiml(fallback);
  }
}

function partiesOf(body: Record<string, unknown> | undefined): CallParties {
  const field = (name: string) => {
    const value = body?.[name];
    return typeof value === 'string' && value.length > 0 && value.length <= 64 ? value : undefined;
  };
  const from = field('From');
  const to = field('To');
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** The longest whisper carried in the URL (Twilio signs the whole URL, so it cannot be altered). */
const MAX_WHISPER_CHARS = 300;

/** A transfer's `<Dial>`: its ring timeout, and a whisper for whoever answers. */
export function transferTwiml(
  outcome: Extract<CallOutcome, { kind: 'transfer' }>,
  publicUrl: string,
): string {
  const whisper = outcome.whisper?.slice(0, MAX_WHISPER_CHARS);
  return dialTwiml(outcome.to, publicUrl + ROUTES.dialEnded, {
    ...(whisper ? { whisperUrl: `${publicUrl}${ROUTES.whisper}?say=${encodeURIComponent(whisper)}` } : {}),
    ...(outcome.ringTimeoutS ? { timeoutS: outcome.ringTimeoutS } : {}),
  });
}

/** A recording URL as Twilio sends it (https), else undefined: nothing else goes into a record. */
function httpsUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 500) return undefined;
  try {
    return new URL(value).protocol === 'https:' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The TwiML that connects a call to the agent: the stream, with its one-time token. */
function streamTwiml(base: string, token: string, callSid: string): string {
  return connectStreamTwiml({
    streamUrl: streamUrl(base),
    actionUrl: base + ROUTES.streamEnded,
    parameters: { token, callSid },
  });
}
