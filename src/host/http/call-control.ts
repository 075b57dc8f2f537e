import express from 'express';
import type { Logger } from '../../observability/logger.js';
import { CALL_SID } from '../../telephony/twilio/webhooks.js';
import type { LiveCall } from '../calls/shared-calls.js';
import { requireBearer } from './admin-token.js';

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

/**
 * Control of live calls from any instance: `GET /api/live-calls` lists them (and which process
 * holds each), `POST /calls/<CallSid>/hangup` ends one — here, or by a command to the process that
 * holds its stream, which acts within a fraction of a second.
 */
export function callControlRouter(options: CallControlOptions): express.Router {
  const router = express.Router();
  const admin = requireBearer(options.adminToken);
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
