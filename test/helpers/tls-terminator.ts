import { readFileSync } from 'node:fs';
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
