import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { fileURLToPath } from 'node:url';

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url)));

/** The test certificate's PEM, for a client's `ca`. */
export const LOOPBACK_CA = fixture('loopback.crt');

/**
 * TLS on 127.0.0.1 in front of a plain TCP port: the official `openai` Realtime client only dials
 * `wss:`, so it reaches the local stand-in through this.
 */
export async function startTlsTerminator(
  targetPort: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer({ key: fixture('loopback.key'), cert: LOOPBACK_CA }, (tls) => {
    const plain = connect(targetPort, '127.0.0.1');
    tls.pipe(plain).pipe(tls);
    const end = () => {
      tls.destroy();
      plain.destroy();
    };
    tls.on('error', end);
    plain.on('error', end);
    tls.on('close', end);
    plain.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

/**
 * `fetch` over node:https trusting the test certificate (Node's global fetch takes no `ca`): for
 * clients such as the openai package, given as their `fetch` option.
 */
export function fetchTrustingLoopback(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    headers[key] = value;
  });
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: init?.method ?? 'GET', headers, ca: LOOPBACK_CA }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const out = new Headers();
        for (const [key, value] of Object.entries(res.headers))
          if (value !== undefined) out.set(key, Array.isArray(value) ? value.join(', ') : value);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers: out }));
      });
    });
    req.on('error', reject);
    if (typeof init?.body === 'string') req.write(init.body);
    req.end();
  });
}
