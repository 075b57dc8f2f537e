import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../observability/logger.js';
import { bearerOf, sameSecret } from './admin-token.js';
import type { LiveCall } from './shared-calls.js';

export const LIVE_CALLS_PATH = '/api/live-calls';

export interface CallControlOptions {
  /** VOICE_AGENT_ADMIN_TOKEN, as a bearer token (no cookie: no cross-site requests). */
  adminToken: string;
  /** The agent's live calls on every process and server sharing the call state. */
  live(): Promise<LiveCall[]>;
  /** Ends a live call wherever it is held (see VoiceServer.hangUp). */
  hangUp(callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'>;
  logger: Logger;
}

const CALL_SID = /^CA[A-Za-z0-9]{2,62}$/;

/**
 * Control of live calls from any instance: `GET /api/live-calls` lists them (and which process
 * holds each), `POST /calls/<CallSid>/hangup` ends one — here, or by a command to the process that
 * holds its stream, which acts within a fraction of a second.
 */
export function callControlRouter(options: CallControlOptions): express.Router {
  const router = express.Router();
  const admin = (req: Request, res: Response, next: NextFunction) => {
    const bearer = bearerOf(req);
    if (bearer !== undefined && sameSecret(bearer, options.adminToken)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: 'unauthorized: send Authorization: Bearer <VOICE_AGENT_ADMIN_TOKEN>' });
  };
  router.get(LIVE_CALLS_PATH, admin, async (_req, res) => {
    const calls = await options.live();
    res.json({
      calls: calls.map((c) => ({
        callSid: c.callSid,
        state: c.state,
        instance: c.instance,
        since: new Date(c.sinceMs).toISOString(),
      })),
    });
  });
  router.post('/calls/:callSid/hangup', admin, async (req, res) => {
    const callSid = String(req.params.callSid);
    if (!CALL_SID.test(callSid)) {
      res.status(400).json({ error: 'expected a CallSid (CA…)' });
      return;
    }
    const where = await options.hangUp(callSid, 'ended by an operator');
    if (where === 'not_live') {
      res.status(404).json({ error: `${callSid} is not a live call` });
      return;
    }
    options.logger.child({ callSid }).info({ where }, 'an operator ended the call');
    res.json({ callSid, ended: where === 'here' ? 'here' : 'sent to the process holding it' });
  });
  return router;
}
