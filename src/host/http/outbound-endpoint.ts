import express, { type Request, type Response } from 'express';
import { errorMessage, PeerError, UsageError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { maskNumber } from '../../observability/mask.js';
import type { OutboundRequest } from '../outbound.js';
import { type OutboundRefusal, OutboundRefused } from '../outbound-guard.js';
import { requireBearer } from './admin-token.js';

export const OUTBOUND_PATH = '/calls/outbound';

export interface OutboundEndpointOptions {
  /** VOICE_AGENT_ADMIN_TOKEN: the only way in (a bearer token; no cookie, so no cross-site requests). */
  adminToken: string;
  /** Places the call; undefined when the server has no Twilio REST credentials. */
  place: ((request: OutboundRequest) => Promise<{ callSid: string; to: string; from: string }>) | undefined;
  logger: Logger;
  /** Counts a refused request (metrics), by reason. */
  onRefused?: (reason: OutboundRefusal) => void;
}

/**
 * `POST /calls/outbound` with `{ "to": "+1…", "from"?: "+1…", "context"?: {…} }`: other systems ask
 * the running agent to call someone. 201 with the CallSid; 400 says what to fix in the request; 502
 * when Twilio refused; 503 without REST credentials.
 */
export function outboundRouter(options: OutboundEndpointOptions): express.Router {
  const router = express.Router();
  const admin = requireBearer(options.adminToken);
  router.post(OUTBOUND_PATH, admin, express.json({ limit: '16kb' }), async (req: Request, res: Response) => {
    if (!options.place) {
      res.status(503).json({
        error: 'outbound calls need Twilio REST credentials: start serve with TWILIO_ACCOUNT_SID set',
      });
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const placed = await options.place({
        to: body.to as string,
        ...(typeof body.from === 'string' ? { from: body.from } : {}),
        context: body.context,
      });
      options.logger.info({ callSid: placed.callSid, to: maskNumber(placed.to) }, 'placed an outbound call');
      res.status(201).json(placed);
    } catch (error) {
      if (error instanceof OutboundRefused) {
        // every refusal is logged (number masked) and counted: an admin token in the wrong hands shows
        options.logger.warn(
          { reason: error.reason, to: typeof body.to === 'string' ? maskNumber(body.to) : undefined },
          `refused an outbound call: ${error.message}`,
        );
        options.onRefused?.(error.reason);
        res
          .status(error.reason === 'rate_limited' ? 429 : 403)
          .json({ error: error.message, code: error.reason });
      } else if (error instanceof UsageError) res.status(400).json({ error: error.message });
      else if (error instanceof PeerError) res.status(502).json({ error: error.message });
      else {
        options.logger.error({ reason: errorMessage(error) }, 'could not place an outbound call');
        res.status(500).json({ error: 'internal error' });
      }
    }
  });
  return router;
}
