import express, { type NextFunction, type Request, type Response } from 'express';
import type { CallOutcome } from '../bridge/ports.js';
import type { Logger } from '../observability/logger.js';
import type { RealtimeConnection } from '../realtime/openai/connection.js';
import { isValidWebhookSignature } from '../telephony/twilio/signature.js';
import {
  connectStreamTwiml,
  dialTwiml,
  type Fallback,
  fallbackTwiml,
  goodbyeTwiml,
  hangupTwiml,
  voicemailTwiml,
} from '../telephony/twilio/twiml.js';
import { version } from '../version.js';
import type { CallRegistry } from './call-registry.js';
import { ROUTES, streamUrl } from './routes.js';

export interface AppOptions {
  registry: CallRegistry;
  logger: Logger;
  fallback: Fallback;
  twilioAuthToken: string;
  insecureSkipSignature: boolean;
  /** The public base URL (known only after listen when the port is 0). */
  publicUrl(): string;
  /** Starts opening the Realtime session for a call that is about to connect. */
  prewarm(callSid: string): RealtimeConnection | undefined;
  activeCalls(): number;
  /** While draining, new calls get the fallback instead of the agent. */
  draining(): boolean;
}

/** Twilio CallSids are CA + 32 hex digits; accept the SID alphabet, as the media codec does. */
const CALL_SID = /^CA[A-Za-z0-9]{2,62}$/;

/** The HTTP side: Twilio webhooks (signed) and a health endpoint. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  app.get(ROUTES.health, (_req, res) => {
    res.json({
      status: options.draining() ? 'draining' : 'ok',
      version,
      active_calls: options.activeCalls(),
    });
  });

  const signed = (req: Request, res: Response, next: NextFunction) => {
    if (options.insecureSkipSignature) return next();
    const url = options.publicUrl() + req.originalUrl;
    const params = Object.fromEntries(
      Object.entries((req.body ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    if (isValidWebhookSignature(options.twilioAuthToken, req.header('x-twilio-signature'), url, params))
      return next();
    options.logger.warn(
      { path: req.path, signature: req.header('x-twilio-signature') ? 'invalid' : 'missing', ip: req.ip },
      'rejected a webhook that is not signed by Twilio for this URL (check --public-url)',
    );
    res.status(403).type('text/plain').send('Forbidden: invalid Twilio signature\n');
  };

  const twiml = (res: Response, body: string) => res.type('text/xml').send(body);

  app.post(ROUTES.incoming, signed, (req, res) => {
    const callSid = String(req.body?.CallSid ?? '');
    if (!CALL_SID.test(callSid)) {
      res.status(400).type('text/plain').send('Bad request: CallSid is missing or malformed\n');
      return;
    }
    const log = options.logger.child({ callSid });
    if (options.draining()) {
      log.info('server is shutting down: answering with the fallback');
      twiml(res, fallbackTwiml(options.fallback));
      return;
    }
    const token = options.registry.register(callSid, options.prewarm(callSid));
    log.info({ from: req.body?.From ? 'present' : 'absent' }, 'incoming call');
    const base = options.publicUrl();
    twiml(
      res,
      connectStreamTwiml({
        streamUrl: streamUrl(base),
        actionUrl: base + ROUTES.streamEnded,
        parameters: { token, callSid },
      }),
    );
  });

  app.post(ROUTES.streamEnded, signed, (req, res) => {
    const callSid = String(req.body?.CallSid ?? '');
    const outcome = options.registry.outcomeOf(callSid);
    options.logger
      .child({ callSid })
      .info({ outcome: outcome.kind }, 'stream ended; telling Twilio what next');
    twiml(res, nextStepTwiml(outcome, options.fallback, options.publicUrl()));
  });

  // a transfer's <Dial action>: if nobody answered, the caller can leave a message
  app.post(ROUTES.dialEnded, signed, (req, res) => {
    const status = String(req.body?.DialCallStatus ?? '');
    const log = options.logger.child({ callSid: String(req.body?.CallSid ?? '') });
    if (status === 'completed' || status === 'answered') {
      log.info('transfer completed');
      twiml(res, hangupTwiml());
      return;
    }
    log.warn({ dialStatus: status || 'unknown' }, 'transfer failed; offering voicemail');
    twiml(res, voicemailTwiml(options.publicUrl() + ROUTES.messageRecorded));
  });

  app.post(ROUTES.messageRecorded, signed, (req, res) => {
    options.logger.child({ callSid: String(req.body?.CallSid ?? '') }).info(
      {
        recordingUrl: String(req.body?.RecordingUrl ?? ''),
        seconds: Number(req.body?.RecordingDuration ?? 0),
      },
      'caller left a message',
    );
    twiml(res, goodbyeTwiml('Thank you, we got your message. Goodbye.'));
  });

  // the number's status callback (set by configure-number): how each call ended, for the log
  app.post(ROUTES.status, signed, (req, res) => {
    options.logger
      .child({ callSid: String(req.body?.CallSid ?? '') })
      .info(
        { status: String(req.body?.CallStatus ?? ''), seconds: Number(req.body?.CallDuration ?? 0) },
        'call status',
      );
    res.status(204).end();
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  return app;
}

/** What the caller gets once the stream is over. */
export function nextStepTwiml(outcome: CallOutcome, fallback: Fallback, publicUrl: string): string {
  switch (outcome.kind) {
    case 'completed':
      return hangupTwiml();
    case 'transfer':
      return dialTwiml(outcome.to, publicUrl + ROUTES.dialEnded);
    case 'failed':
      return fallbackTwiml(fallback);
  }
}
