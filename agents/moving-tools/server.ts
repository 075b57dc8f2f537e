#!/usr/bin/env node
/**
 * Swift Movers' MCP tools server: quotes, availability and bookings.
 *
 *   node dist/agents/moving-tools/server.js [--db bookings.sqlite | --data-dir DIR] [--rate-card rate-card.json]
 *       → MCP over stdio (how agents/moving.yaml starts it); the database is --db, else
 *         DIR/moving.sqlite (voice-agent's data directory), else moving.sqlite here
 *   MOVING_TOOLS_TOKEN=secret node dist/agents/moving-tools/server.js --http [--port 3030] [--host 127.0.0.1]
 *       → MCP over Streamable HTTP at http://host:port/mcp, bearer-token auth, for hosting it separately
 */
import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { NextFunction, Request, Response } from 'express';
import { DEFAULT_RATE_CARD_PATH, loadRateCard } from './rate-card.js';
import { BookingStore } from './store.js';
import { registerMovingTools, type ToolDeps } from './tools.js';

function fail(message: string): never {
  process.stderr.write(`moving-tools: ${message}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        db: { type: 'string', default: '' },
        'data-dir': { type: 'string', default: '' },
        'rate-card': { type: 'string' },
        http: { type: 'boolean', default: false },
        port: { type: 'string', default: '3030' },
        host: { type: 'string', default: '127.0.0.1' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();

let rateCard: ReturnType<typeof loadRateCard>;
try {
  rateCard = loadRateCard(values['rate-card'] ? resolve(values['rate-card']) : DEFAULT_RATE_CARD_PATH);
} catch (error) {
  fail((error as Error).message);
}
const store = new BookingStore(databasePath(), rateCard.crews_per_slot);

/** --db, else the data directory's moving.sqlite (created with the directory, owner only). */
function databasePath(): string {
  if (values.db) return resolve(values.db);
  if (!values['data-dir']) return resolve('moving.sqlite');
  const dir = resolve(values['data-dir']);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    fail(`cannot create the data directory ${dir}: ${(error as Error).message}`);
  }
  return join(dir, 'moving.sqlite');
}
const deps: ToolDeps = {
  store,
  rateCard,
  today: () => process.env.MOVING_TODAY ?? new Date().toISOString().slice(0, 10),
};

function buildServer(): McpServer {
  const server = new McpServer(
    { name: 'swift-movers', version: '1.0.0' },
    { instructions: 'Tools of Swift Movers: quotes, availability, bookings.' },
  );
  registerMovingTools(server, deps);
  return server;
}

if (!values.http) {
  await buildServer().connect(new StdioServerTransport());
} else {
  const token = process.env.MOVING_TOOLS_TOKEN;
  if (!token) fail('--http needs MOVING_TOOLS_TOKEN (clients send it as "Authorization: Bearer <token>")');
  const expected = Buffer.from(`Bearer ${token}`);
  const app = createMcpExpressApp({ host: values.host });
  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = Buffer.from(req.header('authorization') ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.status(401).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Unauthorized' }, id: null });
  });
  // stateless: a fresh server and transport per request, so restarts lose nothing
  app.post('/mcp', async (req: Request, res: Response) => {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const notAllowed = (_req: Request, res: Response) => {
    res
      .status(405)
      .json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed' }, id: null });
  };
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);
  const listener = app.listen(Number(values.port), values.host, () => {
    const address = listener.address();
    const port = typeof address === 'object' && address ? address.port : values.port;
    process.stderr.write(`moving-tools: listening on http://${values.host}:${port}/mcp\n`);
  });
}

const shutdown = () => {
  store.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
