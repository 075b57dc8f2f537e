import type { Serving } from '../host/serve.js';
import type { Logger } from '../observability/logger.js';
import { type CliIo, colours } from './io.js';

/** `--insecure-skip-signature`'s warning: loud on a terminal, a warn line with JSON logs. */
export function warnInsecure(io: CliIo, jsonLog: Logger | undefined): void {
  if (jsonLog) {
    jsonLog.warn(
      '--insecure-skip-signature is on: anyone who finds this server can place calls on your OpenAI key; never use it on a public URL',
    );
    return;
  }
  const c = colours(io, 'stderr');
  io.stderr.write(
    `${c.red('WARNING: --insecure-skip-signature is on.')} Anyone who finds this server can place calls on your OpenAI key.\n` +
      'Use it only for local experiments, never on a public URL.\n',
  );
}

/** Where Twilio should send calls, and what else is served: a log entry with --json-logs. */
export function printBanner(
  io: CliIo,
  jsonLog: Logger | undefined,
  s: Serving,
  o: { agent: string; number: string | undefined; reachable: boolean },
): void {
  if (jsonLog) {
    jsonLog.info(
      {
        agent: o.agent,
        address: s.boundAddress,
        ...(s.workers ? { workers: s.workers } : {}),
        webhookUrl: s.webhookUrl,
        streamUrl: s.streamUrl,
        ...(o.number ? { number: o.number } : {}),
        ...(s.metricsUrl ? { metricsUrl: s.metricsUrl } : {}),
        ...(s.callsUrl ? { callsUrl: s.callsUrl } : {}),
        ...(o.reachable ? {} : { warning: 'no --public-url: Twilio cannot reach this address' }),
      },
      'listening',
    );
    return;
  }
  const c = colours(io, 'stderr');
  io.stdout.write(
    `${c.green('voice-agent')} ${o.agent} is listening on ${s.boundAddress}${s.workers ? ` (${s.workers} workers)` : ''}\n` +
      `  Twilio voice webhook (POST): ${s.webhookUrl}\n` +
      `  Media stream:                ${s.streamUrl}\n` +
      (s.callsUrl ? `  Calls page:                  ${s.callsUrl}\n` : '') +
      (s.metricsUrl ? `  Metrics:                     ${s.metricsUrl}\n` : '') +
      (o.number ? `  Call ${o.number} to talk to the agent; its webhook points here until you stop.\n` : '') +
      (o.reachable
        ? ''
        : `  ${c.yellow('No --public-url given:')} Twilio cannot reach this address; use --public-url or --tunnel.\n`),
  );
}
