import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { checkContext, placeOutboundCall } from '../../host/outbound.js';
import { maskNumber } from '../../observability/mask.js';
import { type CliIo, printJson } from '../io.js';
import { parseBaseUrl } from '../options.js';
import { twilioFromEnv } from '../twilio-env.js';

export interface CallOptions {
  agent?: string;
  url?: string;
  from?: string;
  context?: string;
  json?: boolean;
}

/**
 * `voice-agent call <to>`: the agent calls someone. Twilio is asked to place the call; when it is
 * answered, Twilio requests the running `serve` at `--url`, which takes it like an incoming call with
 * the agent's `outbound` greeting, instructions and context.
 */
export async function callCommand(io: CliIo, to: string, options: CallOptions): Promise<void> {
  const env = environmentWithDotenv(io.cwd, io.env);
  if (!options.agent) throw new UsageError('--agent is required: the agent file the running serve uses');
  const urlText = options.url ?? env.VOICE_AGENT_PUBLIC_URL;
  if (!urlText)
    throw new UsageError(
      '--url is required (or VOICE_AGENT_PUBLIC_URL): the public URL of the running voice-agent serve',
    );
  const publicUrl = parseBaseUrl('--url', urlText);
  let context: unknown;
  if (options.context !== undefined) {
    try {
      context = JSON.parse(options.context);
    } catch {
      throw new UsageError(`--context: expected a JSON object, e.g. '{"booking":"SM-4821"}'`, 'bad_context');
    }
  }
  const { agent } = loadAgent(options.agent, { cwd: io.cwd, env });
  checkContext(agent, context); // what the request lacks is said before the credentials are asked for
  const { client } = twilioFromEnv(env, 'placing a call');
  const placed = await placeOutboundCall({
    client,
    agent,
    publicUrl,
    request: { to, ...(options.from ? { from: options.from } : {}), context },
  });
  if (options.json) {
    printJson(io, { call_sid: placed.callSid, to: placed.to, from: placed.from, url: publicUrl });
    return;
  }
  io.stdout.write(
    `Calling ${maskNumber(placed.to)} from ${placed.from} (call ${placed.callSid}).\nWhen they answer, ${publicUrl} takes the call; follow it with voice-agent calls show ${placed.callSid}.\n`,
  );
}
