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
  /** What /readyz reports beyond draining: the start-up check of the model endpoint, tool servers. */
  readiness?(): Readiness;
}

/** The parts of readiness the server does not know itself. */
export interface Readiness {
  /** The model endpoint's start-up check: `failed` makes the server not ready. */
  realtime: 'ok' | 'failed' | 'skipped';
  realtimeError?: string;
  /** MCP servers that are not connected (calls still work, without their tools). */
  mcpDown: { name: string; state: string; error?: string }[];
}

/** Twilio CallSids are CA + 32 hex digits; accept the SID alphabet, as the media codec does. */
const CALL_SID = /^CA[A-Za-z0-9]{2,62}$/;

/** The HTTP side: Twilio webhooks (signed) and a health endpoint. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  // liveness: the process answers
  app.get(ROUTES.health, (_req, res) => {
    res.json({
      status: options.draining() ? 'draining' : 'ok',
      version,
      active_calls: options.activeCalls(),
    });
  });

  // readiness: whether a new call would reach a working agent (503 when it would not)
  app.get(ROUTES.ready, (_req, res) => {
    const r = options.readiness?.() ?? { realtime: 'skipped' as const, mcpDown: [] };
    const draining = options.draining();
    const ready = !draining && r.realtime !== 'failed';
    res.status(ready ? 200 : 503).json({
      status: draining ? 'draining' : !ready ? 'not_ready' : r.mcpDown.length ? 'degraded' : 'ready',
      realtime: r.realtime,
      ...(r.realtimeError ? { realtime_error: r.realtimeError } : {}),
      mcp_down: r.mcpDown,
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
    const { token, repeated } = options.registry.register(callSid, () => options.prewarm(callSid));
    if (repeated) log.info('repeated webhook for a known call: same answer, nothing new opened');
    else log.info({ from: maskNumber(req.body?.From) }, 'incoming call');
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
  // one error handler for every route: a short plain answer, never a stack trace or install path
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(error);
    if (status >= 500)
      options.logger.error(
        { path: req.path, reason: error instanceof Error ? error.message : String(error) },
        'internal error while answering a request',
      );
    else options.logger.debug({ path: req.path, status }, 'refused a malformed request');
    if (res.headersSent) return;
    res
      .status(status)
      .type('text/plain')
      .send(`${ERROR_TEXT[status] ?? 'Bad request'}\n`);
  });
  return app;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request',
  413: 'Request body too large',
  415: 'Unsupported content type or charset',
  500: 'Internal server error',
};

/** The status a body-parser (or other) error asks for; anything unexpected is a 500. */
function httpStatusOf(error: unknown): number {
  const status = (error as { status?: unknown; statusCode?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/** A caller's number for the log: country code and last two digits (`+1*******67`). */
export function maskNumber(value: unknown): string {
  if (typeof value !== 'string' || !value) return 'unknown';
  if (!/^\+\d{6,15}$/.test(value)) return 'withheld';
  return `${value.slice(0, 2)}${'*'.repeat(value.length - 4)}${value.slice(-2)}`;
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
