import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

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
