/**
 * A public HTTPS URL in front of the local server. Providers live behind this interface so another
 * one (e.g. ngrok when NGROK_AUTHTOKEN is set) can be added without touching the server.
 */
export interface Tunnel {
  /** The public base URL, e.g. `https://abc.loca.lt`. */
  readonly url: string;
  /** Called once if the tunnel dies on its own. */
  onClose(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

export interface TunnelProvider {
  readonly name: string;
  /** Opens a tunnel to `http://127.0.0.1:<port>`. */
  open(options: { port: number; signal?: AbortSignal }): Promise<Tunnel>;
}
