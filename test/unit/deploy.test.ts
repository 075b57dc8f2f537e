import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SERVE_ENV } from '../../src/cli/serve-env.js';
import { DEFAULT_ACTION_GRACE_MS } from '../../src/host/voice-server.js';

/**
 * The deployment files cannot be run here (no Docker engine, no cluster), so they are checked for
 * what breaks a deployment when it drifts: shutdown times shorter than the drain, probes on the
 * wrong paths, a variable serve does not read.
 */
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Every variable serve (or the process) reads; anything else in a deployment file is a typo. */
const KNOWN = new Set([
  ...SERVE_ENV.map(([, variable]) => variable),
  'VOICE_AGENT_FILE',
  'VOICE_AGENT_DATA_DIR',
  'VOICE_AGENT_ADMIN_TOKEN',
  'VOICE_AGENT_SECRET',
  'VOICE_AGENT_DOMAIN', // the Caddyfile's, not serve's
]);

function voiceAgentVariables(text: string): string[] {
  return [...new Set(text.match(/VOICE_AGENT_[A-Z_]+/g) ?? [])];
}

describe('deployment files', () => {
  it('the Dockerfile: production dependencies only, non-root, a health check, a data volume, signals reach node', () => {
    const dockerfile = read('Dockerfile');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(final).toMatch(/^USER node$/m);
    expect(final).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(final).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(final).toMatch(/VOICE_AGENT_DATA_DIR=\/data/);
    // exec form through tini: SIGTERM reaches node, which drains
    expect(final).toMatch(/^ENTRYPOINT \["tini", "--", "node", "bin\/voice-agent\.js", "serve"\]$/m);
    expectKnownVariables(dockerfile);
  });

  it('docker-compose: two replicas on PostgreSQL behind a TLS proxy, stopped no sooner than the drain', () => {
    const compose = parse(read('docker-compose.yml')) as {
      services: Record<string, Record<string, unknown>>;
    };
    const agent = compose.services['voice-agent']!;
    expect((agent.deploy as { replicas: number }).replicas).toBe(2);
    const env = agent.environment as Record<string, string>;
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(env.VOICE_AGENT_PUBLIC_URL).toMatch(/^https:\/\//);
    const drainS = Number(env.VOICE_AGENT_DRAIN_TIMEOUT);
    expect(Number.parseInt(String(agent.stop_grace_period), 10)).toBeGreaterThan(
      drainS + DEFAULT_ACTION_GRACE_MS / 1000,
    );
    expect(compose.services.postgres).toBeDefined();
    expect(compose.services.caddy!.ports).toEqual(['80:80', '443:443']);
    const caddyfile = read('deploy/Caddyfile');
    expect(caddyfile).toMatch(/reverse_proxy[\s\S]*voice-agent 8080/);
    expect(caddyfile).toMatch(/health_uri \/readyz/);
    expect(caddyfile).not.toMatch(/lb_policy (ip_hash|cookie)/); // no sticky sessions needed
    expectKnownVariables(read('docker-compose.yml'));
  });

  it('Kubernetes: readiness on /readyz, liveness on /healthz, a preStop drain, a grace period above it, WebSocket timeouts', () => {
    const docs = parseAllDocuments(read('deploy/k8s/voice-agent.yaml')).map((d) => d.toJS()) as {
      kind: string;
      spec: Record<string, unknown>;
      metadata: { annotations?: Record<string, string> };
    }[];
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const pod = (deployment.spec.template as { spec: Record<string, unknown> }).spec;
    const container = (pod.containers as Record<string, unknown>[])[0]!;
    expect((container.readinessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/readyz');
    expect((container.livenessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/healthz');
    const env = Object.fromEntries(
      (container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    const drainS = Number(env.VOICE_AGENT_DRAIN_TIMEOUT);
    expect(pod.terminationGracePeriodSeconds as number).toBeGreaterThan(
      drainS + DEFAULT_ACTION_GRACE_MS / 1000,
    );
    const preStop = (container.lifecycle as { preStop: { exec: { command: string[] } } }).preStop.exec
      .command;
    expect(preStop.join(' ')).toContain('kill -TERM 1');
    expect(deployment.spec.replicas).toBe(2);
    expect(docs.find((d) => d.kind === 'Service')).toBeDefined();
    const ingress = docs.find((d) => d.kind === 'Ingress')!;
    for (const timeout of ['proxy-read-timeout', 'proxy-send-timeout'])
      expect(
        Number(ingress.metadata.annotations?.[`nginx.ingress.kubernetes.io/${timeout}`]),
      ).toBeGreaterThanOrEqual(3600);
    expectKnownVariables(read('deploy/k8s/voice-agent.yaml'));
  });

  it('docs/deploy.md names only variables serve reads', () => {
    expectKnownVariables(read('docs/deploy.md'));
  });
});

/** The file sets (or names) some VOICE_AGENT_* variables, and each is one serve reads. */
function expectKnownVariables(text: string): void {
  const variables = voiceAgentVariables(text);
  expect(variables.length).toBeGreaterThan(0);
  for (const variable of variables) expect(KNOWN).toContain(variable);
}
