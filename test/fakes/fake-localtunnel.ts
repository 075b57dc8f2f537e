import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback fake of a localtunnel server. `GET /?new` answers `{id, port, url, max_conn_count}`
 * like localtunnel's server; the client then opens raw TCP connections to `port`, and every
 * connection to the public `url` is piped through one of them — the real protocol, so the real
 * `localtunnel` client and our provider are exercised end to end. `interstitial` mimics loca.lt's
 * "tunnel password" page (HTML, HTTP 511) instead of forwarding.
 */
export interface FakeLocaltunnel {
  /** Pass as LOCALTUNNEL_HOST. */
  host: string;
  /** The public URL handed to the client. */
  publicUrl: string;
  /** Tunnel sockets the client has opened (connected now). */
  readonly clientSockets: number;
  /** Requests that went through the tunnel. */
  forwarded: number;
  /** Kill every tunnel socket and refuse new ones (the tunnel dies). */
  breakTunnel(): void;
  close(): Promise<void>;
}

const listen = (server: Server | ReturnType<typeof createHttpServer>) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );

export async function startFakeLocaltunnel(
  options: { interstitial?: boolean; maxConn?: number } = {},
): Promise<FakeLocaltunnel> {
  const idle: Socket[] = [];
  const all = new Set<Socket>();
  const waiting: ((s: Socket) => void)[] = [];
  let broken = false;
  const tunnelServer = createServer((socket) => {
    if (broken) return socket.destroy();
    all.add(socket);
    socket.on('close', () => {
      all.delete(socket);
      const i = idle.indexOf(socket);
      if (i >= 0) idle.splice(i, 1);
    });
    socket.on('error', () => socket.destroy());
    const next = waiting.shift();
    if (next) next(socket);
    else idle.push(socket);
  });
  const tunnelPort = await listen(tunnelServer);

  const state = { forwarded: 0 };
  const publicClients = new Set<Socket>();
  const publicServer = createServer((client) => {
    publicClients.add(client);
    client.on('close', () => publicClients.delete(client));
    client.on('error', () => client.destroy());
    if (options.interstitial) {
      const html = '<html><body><h1>Friendly Reminder</h1><p>Tunnel password required</p></body></html>';
      client.end(
        `HTTP/1.1 511 Network Authentication Required\r\nContent-Type: text/html\r\nContent-Length: ${html.length}\r\nConnection: close\r\n\r\n${html}`,
      );
      return;
    }
    const use = (tunnel: Socket) => {
      state.forwarded++;
      client.pipe(tunnel).pipe(client);
      const end = () => {
        client.destroy();
        tunnel.destroy();
      };
      client.on('close', end);
      tunnel.on('close', end);
    };
    const socket = idle.shift();
    if (socket) use(socket);
    else waiting.push(use);
  });
  const publicPort = await listen(publicServer);
  const publicUrl = `http://127.0.0.1:${publicPort}`;

  const api = createHttpServer((req, res) => {
    if (req.url === '/?new' || req.url === '/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'fake-tunnel',
          ip: '127.0.0.1',
          port: tunnelPort,
          max_conn_count: options.maxConn ?? 4,
          url: publicUrl,
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  const apiPort = await listen(api);

  return {
    host: `http://127.0.0.1:${apiPort}`,
    publicUrl,
    get clientSockets() {
      return all.size;
    },
    get forwarded() {
      return state.forwarded;
    },
    set forwarded(n: number) {
      state.forwarded = n;
    },
    breakTunnel() {
      broken = true;
      for (const s of all) s.destroy();
      tunnelServer.close();
    },
    async close() {
      for (const s of all) s.destroy();
      api.closeAllConnections();
      for (const c of publicClients) c.destroy();
      await Promise.all(
        [tunnelServer, publicServer, api].map(
          (s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve())),
        ),
      );
    },
  };
}
