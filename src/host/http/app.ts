import express, { type NextFunction, type Request, type Response } from 'express';
import { twilioWebhooks, type WebhookOptions } from '../../telephony/twilio/webhooks.js';
import { version } from '../../version.js';
import { type CallControlOptions, callControlRouter } from './call-control.js';
import { type CallsPageOptions, callsRouter } from './calls-page.js';
import { type OutboundEndpointOptions, outboundRouter } from './outbound-endpoint.js';
import { ROUTES } from './routes.js';

export interface AppOptions extends WebhookOptions {
  activeCalls(): number;
  /** The calls page and API (`/calls`, `/api/calls`), when an admin token and a store exist. */
  callsPage?: CallsPageOptions;
  /** POST /calls/outbound, when an admin token is set. */
  outbound?: OutboundEndpointOptions;
  /** Live calls and hang-up from any instance, when an admin token is set. */
  control?: CallControlOptions;
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
  /** Models of the agent that OpenAI retires within 90 days, or does not know. */
  modelWarnings?: string[];
  /** Some tool server has not been tried yet: a call now would wait for it (not ready). */
  starting?: boolean;
  /** The database this process needs (shared call state) cannot be reached: not ready. */
  databaseError?: string;
}

/** The HTTP side: health and readiness, the Twilio webhooks, one error handler. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // no answer of this server is to be read as anything but its declared type
  app.use((_req, res, next) => {
    res.set('x-content-type-options', 'nosniff');
    next();
  });

  // liveness: the process answers
  app.get(ROUTES.health, (_req, res) => {
    res.json({
      status: options.calls.draining() ? 'draining' : 'ok',
      version,
      active_calls: options.activeCalls(),
    });
  });

  // readiness: whether a new call would reach a working agent (503 when it would not)
  app.get(ROUTES.ready, (_req, res) => {
    const r = options.readiness?.() ?? { realtime: 'skipped' as const, mcpDown: [] };
    const draining = options.calls.draining();
    const ready = !draining && !r.starting && !r.databaseError && r.realtime !== 'failed';
    res.status(ready ? 200 : 503).json({
      status: draining
        ? 'draining'
        : r.starting
          ? 'starting'
          : !ready
            ? 'not_ready'
            : r.mcpDown.length
              ? 'degraded'
              : 'ready',
      realtime: r.realtime,
      ...(r.realtimeError ? { realtime_error: r.realtimeError } : {}),
      mcp_down: r.mcpDown,
      ...(r.modelWarnings?.length ? { model_warnings: r.modelWarnings } : {}),
      ...(r.databaseError ? { database_error: r.databaseError } : {}),
      active_calls: options.activeCalls(),
    });
  });

  if (options.callsPage) app.use(callsRouter(options.callsPage));
  if (options.outbound) app.use(outboundRouter(options.outbound));
  if (options.control) app.use(callControlRouter(options.control));
  app.use(twilioWebhooks(options));

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
