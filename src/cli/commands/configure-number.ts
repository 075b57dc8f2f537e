import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { UsageError } from '../../errors.js';
import { configureNumber, type NumberChange, restoreNumber } from '../../telephony/twilio/configure.js';
import type { VoiceSettings } from '../../telephony/twilio/numbers.js';
import { type CliIo, colours, printJson } from '../io.js';
import { parseBaseUrl } from '../options.js';
import { twilioFromEnv } from '../twilio-env.js';

export interface ConfigureNumberOptions {
  url?: string;
  agent?: string;
  restore?: boolean;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
}

const FIELDS: [keyof VoiceSettings, string][] = [
  ['voice_url', 'voice URL'],
  ['voice_method', 'voice method'],
  ['status_callback', 'status callback'],
  ['status_callback_method', 'callback method'],
  ['voice_application_sid', 'TwiML App'],
  ['trunk_sid', 'SIP trunk'],
];

export function describeChange(io: CliIo, change: NumberChange, verb: string): string {
  const c = colours(io);
  const lines = [`${change.number} (${change.sid})`];
  for (const [key, label] of FIELDS) {
    const before = change.before[key] ?? '—';
    const after = change.after[key] ?? '—';
    if (before === after) lines.push(`  ${label.padEnd(16)}${before}`);
    else lines.push(`  ${label.padEnd(16)}${c.red(before)} → ${c.green(after)}`);
  }
  if (!change.changed) lines.push('Nothing to change.');
  else if (change.dry_run) lines.push(`Dry run: nothing was ${verb}.`);
  else
    lines.push(
      `${verb[0]!.toUpperCase()}${verb.slice(1)}.${change.saved_file ? ` Previous settings saved in ${change.saved_file}.` : ''}`,
    );
  return `${lines.join('\n')}\n`;
}

export async function configureNumberCommand(
  io: CliIo,
  number: string | undefined,
  options: ConfigureNumberOptions,
): Promise<void> {
  const env = environmentWithDotenv(io.cwd, io.env);
  let e164 = number;
  if (!e164 && options.agent) {
    e164 = loadAgent(options.agent, { cwd: io.cwd, env }).agent.twilio.phone_number;
    if (!e164)
      throw new UsageError(`${options.agent} has no twilio.phone_number; give the number as an argument`);
  }
  if (!e164) throw new UsageError('give the number (e.g. +15551234567) or --agent with twilio.phone_number');
  const { client, stateDir } = twilioFromEnv(env);

  let change: NumberChange;
  if (options.restore) {
    if (options.url)
      throw new UsageError('--restore puts back the saved settings; do not combine it with --url');
    change = await restoreNumber({ client, e164, stateDir, dryRun: options.dryRun });
  } else {
    if (!options.url)
      throw new UsageError(
        '--url is required: the public base URL of a running serve (e.g. https://voice.example.com)',
      );
    const baseUrl = parseBaseUrl('--url', options.url);
    if (!baseUrl.startsWith('https://')) {
      io.stderr.write(
        `${colours(io, 'stderr').yellow('warning:')} Twilio requires https webhooks for production numbers; ${baseUrl} is not https\n`,
      );
    }
    change = await configureNumber({
      client,
      e164,
      baseUrl,
      stateDir,
      force: options.force,
      dryRun: options.dryRun,
    });
  }
  if (options.json) printJson(io, change);
  else io.stdout.write(describeChange(io, change, options.restore ? 'restored' : 'updated'));
}
