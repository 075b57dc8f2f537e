import { createHmac } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../observability/logger.js';
import { callListPage, callPage, loginPage } from '../../records/page/pages.js';
import {
  CALL_OUTCOMES,
  type CallFilter,
  type CallStore,
  type CallSummary,
  type StoredAudio,
} from '../../records/store.js';
import { bearerOf, sameSecret } from './admin-token.js';

export interface CallsPageOptions {
  store: CallStore;
  /** VOICE_AGENT_ADMIN_TOKEN; undefined only for `calls ui`, which binds to loopback. */
  adminToken: string | undefined;
  /** Whether cookies must be `Secure` (the public URL is https). */
  secureCookies(): boolean;
  /** Failed logins are logged here (a guesser shows in the log). */
  logger?: Logger;
  /** Monotonic-enough wall clock (tests). */
  now?: () => number;
}

/** A login session lasts this long, checked by the server (the cookie's own expiry is the browser's). */
export const SESSION_TTL_MS = 12 * 3_600_000;
/** A wrong token is answered after this pause: guessing costs a second a try. */
export const FAILED_LOGIN_DELAY_MS = 1_000;
/** More wrong tokens than this in a minute and the login refuses everyone for the rest of that minute. */
const MAX_FAILED_LOGINS_PER_MINUTE = 10;

/**
 * What the pages may load: their own inline style and the recording from this server, nothing else
 * (the pages show what callers said: no script may ever run there).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const CALLS_BASE = '/calls';
const API_BASE = '/api/calls';
const COOKIE = 'va_admin';
const CALL_SID = /^[A-Za-z0-9]{2,64}$/;
const OUTCOMES = new Set<string>(CALL_OUTCOMES);
/** The most calls one request lists (`limit`); more come page by page (`after`, a `Link: rel="next"`). */
export const MAX_PAGE = 500;

/**
 * The calls page (`/calls`) and its JSON API (`/api/calls`), both behind the admin token: a login
 * form that sets an HttpOnly cookie, or `Authorization: Bearer <token>` for scripts. The cookie holds
 * an HMAC of the token, never the token itself. Nothing is readable without one of them.
 */
export function callsRouter(options: CallsPageOptions): express.Router {
  const door = new AdminDoor(options);
  const { store } = options;
  const page = (req: Request, res: Response, next: NextFunction) => door.page(req, res, next);
  const api = (req: Request, res: Response, next: NextFunction) => door.api(req, res, next);
  const router = express.Router();
  // (Express 5 passes a rejected handler's error to the error handler: no try/catch here)
  router.get(`${CALLS_BASE}/login`, (_req, res) => html(res, loginPage(`${CALLS_BASE}/login`, false)));
  router.post(`${CALLS_BASE}/login`, express.urlencoded({ extended: false, limit: '4kb' }), (req, res) =>
    door.login(req, res),
  );
  router.get([CALLS_BASE, `${CALLS_BASE}/`], page, async (req, res) => {
    const filter = filterOf(req);
    const calls = await store.list(filter);
    html(res, callListPage(calls, filter, CALLS_BASE, nextPage(req, CALLS_BASE, calls, filter)));
  });
  router.get(`${CALLS_BASE}/:sid`, page, async (req, res) => {
    const sid = String(req.params.sid);
    const record = CALL_SID.test(sid) ? await store.get(sid) : undefined;
    if (!record) return html(res, '<!doctype html><p>No such call.</p>', 404);
    const audioSrc = record.audio ? `${CALLS_BASE}/${encodeURIComponent(sid)}/audio.wav` : undefined;
    html(res, callPage(record, { audioSrc, home: CALLS_BASE }));
  });
  router.get(`${CALLS_BASE}/:sid/audio.wav`, page, async (req, res, next) => {
    const sid = String(req.params.sid);
    const wav = CALL_SID.test(sid) ? await store.audio(sid) : undefined;
    if (!wav) return res.status(404).type('text/plain').send('No recording\n');
    sendRange(req, res, wav, 'audio/wav', next);
  });
  router.get(API_BASE, api, async (req, res) => {
    const filter = filterOf(req);
    const calls = await store.list(filter);
    const next = nextPage(req, API_BASE, calls, filter);
    if (next) res.set('link', `<${next}>; rel="next"`);
    res.json(calls);
  });
  router.get(`${API_BASE}/:sid`, api, async (req, res) => {
    const sid = String(req.params.sid);
    const record = CALL_SID.test(sid) ? await store.get(sid) : undefined;
    if (record) res.json(record);
    else res.status(404).json({ error: `no call ${sid}` });
  });
  return router;
}

/**
 * The admin token's door: a bearer token for scripts, or a login that sets a session cookie holding
 * its expiry and an HMAC of it under the token (never the token itself). Wrong tokens are answered
 * slowly, logged, and after ten in a minute refused for the rest of it.
 */
class AdminDoor {
  readonly #o: CallsPageOptions;
  readonly #now: () => number;
  /** When wrong tokens were tried in the last minute. */
  readonly #failures: number[] = [];

  constructor(options: CallsPageOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** A page: without a session, to the login form. */
  page(req: Request, res: Response, next: NextFunction): void {
    if (this.#authorised(req)) return next();
    res.redirect(303, `${CALLS_BASE}/login`);
  }

  /** The API: without the token, 401. */
  api(req: Request, res: Response, next: NextFunction): void {
    if (this.#authorised(req)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: 'unauthorized: send Authorization: Bearer <VOICE_AGENT_ADMIN_TOKEN>' });
  }

  login(req: Request, res: Response): void {
    const at = this.#now();
    const failures = this.#failures;
    while (failures.length > 0 && failures[0]! <= at - 60_000) failures.shift();
    if (failures.length >= MAX_FAILED_LOGINS_PER_MINUTE) {
      res
        .status(429)
        .set('retry-after', '60')
        .type('text/plain')
        .send('Too many wrong tokens: try again in a minute\n');
      return;
    }
    const token = this.#o.adminToken;
    if (!token || !sameSecret(String(req.body?.token ?? ''), token)) {
      failures.push(at);
      this.#o.logger?.warn({ ip: req.ip }, 'a wrong admin token at the calls page login');
      setTimeout(() => html(res, loginPage(`${CALLS_BASE}/login`, true), 401), FAILED_LOGIN_DELAY_MS).unref();
      return;
    }
    const expires = at + SESSION_TTL_MS;
    res.cookie(COOKIE, `${expires}.${this.#sign(expires)}`, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.#o.secureCookies(),
      path: '/',
      maxAge: SESSION_TTL_MS,
    });
    res.redirect(303, CALLS_BASE);
  }

  #authorised(req: Request): boolean {
    const token = this.#o.adminToken;
    if (!token) return true;
    const bearer = bearerOf(req);
    if (bearer !== undefined) return sameSecret(bearer, token);
    const cookie = cookies(req.header('cookie'))[COOKIE];
    return cookie !== undefined && this.#validSession(cookie);
  }

  /** A session the server itself signed and that has not expired (the cookie's own expiry is the browser's). */
  #validSession(cookie: string): boolean {
    const [expires, mac] = cookie.split('.');
    const at = Number(expires);
    return Number.isFinite(at) && at > this.#now() && mac !== undefined && sameSecret(mac, this.#sign(at));
  }

  #sign(expires: number): string {
    return createHmac('sha256', this.#o.adminToken ?? '')
      .update(`voice-agent calls page ${expires}`)
      .digest('base64url');
  }
}

/** A page: HTML that nothing may frame, sniff, cache or script. */
function html(res: Response, body: string, status = 200): void {
  res
    .status(status)
    .set({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CONTENT_SECURITY_POLICY,
    })
    .send(body);
}

function filterOf(req: Request): CallFilter {
  const filter: CallFilter = { limit: 200 };
  const outcome = String(req.query.outcome ?? '');
  if (OUTCOMES.has(outcome)) filter.outcome = outcome as CallFilter['outcome'];
  const since = new Date(String(req.query.since ?? ''));
  if (req.query.since && !Number.isNaN(since.getTime())) filter.since = since;
  const limit = Number(req.query.limit);
  if (Number.isInteger(limit) && limit > 0) filter.limit = Math.min(limit, MAX_PAGE);
  const after = /^([0-9T:.Z-]{10,40})_([A-Za-z0-9]{2,64})$/.exec(String(req.query.after ?? ''));
  if (after) filter.after = { startedAt: after[1]!, callSid: after[2]! };
  return filter;
}

/** The URL of the page after `calls` (same filter), when the page is full. */
function nextPage(req: Request, base: string, calls: CallSummary[], filter: CallFilter): string | undefined {
  const last = calls.at(-1);
  if (!last || calls.length < (filter.limit ?? 0)) return undefined;
  const query = new URLSearchParams();
  for (const key of ['outcome', 'since', 'limit'])
    if (typeof req.query[key] === 'string') query.set(key, req.query[key]);
  query.set('after', `${last.startedAt}_${last.callSid}`);
  return `${base}?${query}`;
}

/**
 * Sends a recording honouring one `Range: bytes=a-b` (an audio element seeks with it), streamed
 * from the store: a range costs what it spans, not the whole file (reliability test 12).
 */
function sendRange(req: Request, res: Response, audio: StoredAudio, type: string, next: NextFunction): void {
  res.set({ 'content-type': type, 'accept-ranges': 'bytes', 'cache-control': 'private, no-store' });
  const size = audio.bytes;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.header('range') ?? '');
  let start = 0;
  let end = size - 1;
  if (range && (range[1] || range[2])) {
    start = range[1] ? Number(range[1]) : size - Number(range[2]);
    end = range[1] && range[2] ? Number(range[2]) : size - 1;
    start = Math.max(0, start);
    end = Math.min(size - 1, end);
    if (start > end) {
      res.status(416).set('content-range', `bytes */${size}`).end();
      return;
    }
    res.status(206).set('content-range', `bytes ${start}-${end}/${size}`);
  }
  res.set('content-length', String(end - start + 1));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  pipeline(audio.stream(start, end), res).catch((error: unknown) => {
    // a listener who closes the page mid-recording is not an error
    if (!res.headersSent) next(error);
  });
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
