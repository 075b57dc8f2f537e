import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Compares secrets in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The request's `Authorization: Bearer <token>`, if it has one. */
export function bearerOf(req: Request): string | undefined {
  return /^Bearer (.+)$/.exec(req.header('authorization') ?? '')?.[1];
}

/**
 * Lets through only requests with `Authorization: Bearer <token>` (no cookie, so no cross-site
 * requests); 401 otherwise.
 */
export function requireBearer(token: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const bearer = bearerOf(req);
    if (bearer !== undefined && sameSecret(bearer, token)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json({ error: 'unauthorized: send Authorization: Bearer <VOICE_AGENT_ADMIN_TOKEN>' });
  };
}
