import { createHmac } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { callListPage, callPage, loginPage } from '../records/page/pages.js';
import { CALL_OUTCOMES, type CallFilter, type CallStore } from '../records/store.js';
import { bearerOf, sameSecret } from './admin-token.js';

export interface CallsPageOptions {
  store: CallStore;
  /** VOICE_AGENT_ADMIN_TOKEN; undefined only for `calls ui`, which binds to loopback. */
  adminToken: string | undefined;
  /** Whether cookies must be `Secure` (the public URL is https). */
  secureCookies(): boolean;
}

export const CALLS_BASE = '/calls';
const API_BASE = '/api/calls';
const COOKIE = 'va_admin';
const CALL_SID = /^[A-Za-z0-9]{2,64}$/;
const OUTCOMES = new Set<string>(CALL_OUTCOMES);

/**
 * The calls page (`/calls`) and its JSON API (`/api/calls`), both behind the admin token: a login
 * form that sets an HttpOnly cookie, or `Authorization: Bearer <token>` for scripts. The cookie holds
 * an HMAC of the token, never the token itself. Nothing is readable without one of them.
 */
export function callsRouter(options: CallsPageOptions): express.Router {
  const router = express.Router();
  const token = options.adminToken;
  const session = token
    ? createHmac('sha256', token).update('voice-agent calls page').digest('base64url')
    : '';

  const authorised = (req: Request): boolean => {
    if (!token) return true;
    const bearer = bearerOf(req);
    if (bearer !== undefined) return sameSecret(bearer, token);
    const cookie = cookies(req.header('cookie'))[COOKIE];
    return cookie !== undefined && sameSecret(cookie, session);
  };
  const page = (req: Request, res: Response, next: NextFunction) => {
    if (authorised(req)) return next();
    res.redirect(303, `${CALLS_BASE}/login`);
  };
  const api = (req: Request, res: Response, next: NextFunction) => {
    if (authorised(req)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: 'unauthorized: send Authorization: Bearer <VOICE_AGENT_ADMIN_TOKEN>' });
  };
  const html = (res: Response, body: string, status = 200) =>
    res
      .status(status)
      .set({
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
      })
      .send(body);

  router.get(`${CALLS_BASE}/login`, (_req, res) => html(res, loginPage(`${CALLS_BASE}/login`, false)));
  router.post(`${CALLS_BASE}/login`, express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    if (!token || !sameSecret(String(req.body?.token ?? ''), token)) {
      html(res, loginPage(`${CALLS_BASE}/login`, true), 401);
      return;
    }
    res.cookie(COOKIE, session, {
      httpOnly: true,
      sameSite: 'strict',
      secure: options.secureCookies(),
      path: '/',
      maxAge: 12 * 3_600_000,
    });
    res.redirect(303, CALLS_BASE);
  });

  router.get([CALLS_BASE, `${CALLS_BASE}/`], page, async (req, res, next) => {
    try {
      const filter = filterOf(req);
      html(res, callListPage(await options.store.list(filter), filter, CALLS_BASE));
    } catch (error) {
      next(error);
    }
  });
  router.get(`${CALLS_BASE}/:sid`, page, async (req, res, next) => {
    try {
      const sid = String(req.params.sid);
      const record = CALL_SID.test(sid) ? await options.store.get(sid) : undefined;
      if (!record) {
        html(res, '<!doctype html><p>No such call.</p>', 404);
        return;
      }
      const audioSrc = record.audio ? `${CALLS_BASE}/${encodeURIComponent(sid)}/audio.wav` : undefined;
      html(res, callPage(record, { audioSrc, home: CALLS_BASE }));
    } catch (error) {
      next(error);
    }
  });
  router.get(`${CALLS_BASE}/:sid/audio.wav`, page, async (req, res, next) => {
    try {
      const sid = String(req.params.sid);
      const wav = CALL_SID.test(sid) ? await options.store.audio(sid) : undefined;
      if (!wav) {
        res.status(404).type('text/plain').send('No recording\n');
        return;
      }
      sendRange(req, res, wav, 'audio/wav');
    } catch (error) {
      next(error);
    }
  });

  router.get(API_BASE, api, async (req, res, next) => {
    try {
      res.json(await options.store.list(filterOf(req)));
    } catch (error) {
      next(error);
    }
  });
  router.get(`${API_BASE}/:sid`, api, async (req, res, next) => {
    try {
      const sid = String(req.params.sid);
      const record = CALL_SID.test(sid) ? await options.store.get(sid) : undefined;
      if (record) res.json(record);
      else res.status(404).json({ error: `no call ${sid}` });
    } catch (error) {
      next(error);
    }
  });
  return router;
}

function filterOf(req: Request): CallFilter {
  const filter: CallFilter = { limit: 200 };
  const outcome = String(req.query.outcome ?? '');
  if (OUTCOMES.has(outcome)) filter.outcome = outcome as CallFilter['outcome'];
  const since = new Date(String(req.query.since ?? ''));
  if (req.query.since && !Number.isNaN(since.getTime())) filter.since = since;
  const limit = Number(req.query.limit);
  if (Number.isInteger(limit) && limit > 0 && limit <= 10_000) filter.limit = limit;
  return filter;
}

/** Sends a body honouring one `Range: bytes=a-b` (an audio element seeks with it). */
function sendRange(req: Request, res: Response, body: Buffer, type: string): void {
  res.set({ 'content-type': type, 'accept-ranges': 'bytes', 'cache-control': 'private, max-age=3600' });
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.header('range') ?? '');
  if (!range || (!range[1] && !range[2])) {
    res.send(body);
    return;
  }
  const size = body.length;
  let start = range[1] ? Number(range[1]) : size - Number(range[2]);
  let end = range[1] && range[2] ? Number(range[2]) : size - 1;
  start = Math.max(0, start);
  end = Math.min(size - 1, end);
  if (start > end) {
    res.status(416).set('content-range', `bytes */${size}`).end();
    return;
  }
  res
    .status(206)
    .set('content-range', `bytes ${start}-${end}/${size}`)
    .send(body.subarray(start, end + 1));
}

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed cookie is no cookie
    }
  }
  return out;
}
