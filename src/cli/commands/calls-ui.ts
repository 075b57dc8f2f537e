import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { UsageError } from '../../errors.js';
import { CALLS_BASE, callsRouter } from '../../host/http/calls-page.js';
import { dataDir, openSharedOrLocalStore } from '../../records/open.js';
import type { CallStore } from '../../records/store.js';
import { type CliIo, colours } from '../io.js';
import { parsePort } from '../options.js';
import { waitForShutdownSignal } from '../runtime.js';

/**
 * `calls ui`: the calls page for the local data directory, on 127.0.0.1 only (no login: whoever can
 * reach loopback can read the data directory anyway).
 */
export async function callsUiCommand(io: CliIo, options: { dataDir?: string; port: string }): Promise<void> {
  const port = parsePort(options.port);
  const dir = dataDir(io.env, options.dataDir, io.cwd);
  let store: CallStore;
  try {
    store = await openSharedOrLocalStore(io.env, dir);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot open the call records in ${dir}: ${(error as Error).message}`);
  }
  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => res.redirect(CALLS_BASE));
  app.use(callsRouter({ store, adminToken: undefined, secureCookies: () => false }));
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`port ${port} is already in use: choose another with --port`)
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  io.stdout.write(
    `${colours(io).green('voice-agent')} calls page for ${store.location}: http://127.0.0.1:${bound}${CALLS_BASE}\n  Ctrl-C to stop.\n`,
  );
  await waitForShutdownSignal();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
}
