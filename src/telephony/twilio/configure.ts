import { PeerError, UsageError } from '../../errors.js';
import { forgetSaved, readSaved, saveOnce } from './number-state.js';
import { agentSettings, applySettings, findNumber, routingOverride, type VoiceSettings } from './numbers.js';
import type { TwilioClient } from './rest.js';

/** What configure or restore did (or would do, with dryRun). The `--json` shape. */
export interface NumberChange {
  number: string;
  sid: string;
  before: VoiceSettings;
  after: VoiceSettings;
  changed: boolean;
  dry_run: boolean;
  /** Where the previous settings are kept (configure), or were read from (restore). */
  saved_file: string | null;
}

const same = (a: VoiceSettings, b: VoiceSettings) => JSON.stringify(a) === JSON.stringify(b);

/** Points a number's voice webhook at `<baseUrl>/voice/incoming`, saving what it had before. */
export async function configureNumber(options: {
  client: TwilioClient;
  e164: string;
  baseUrl: string;
  stateDir: string;
  force?: boolean;
  dryRun?: boolean;
}): Promise<NumberChange> {
  const number = await findNumber(options.client, options.e164);
  const override = routingOverride(number.settings);
  if (override && !options.force) {
    throw new UsageError(
      `${number.phone_number} cannot be pointed at voice-agent: ${override}. Re-run with --force to clear it.`,
      'number_routed_elsewhere',
    );
  }
  const after = agentSettings(options.baseUrl, Boolean(options.force), number.settings);
  const change: NumberChange = {
    number: number.phone_number,
    sid: number.sid,
    before: number.settings,
    after,
    changed: !same(number.settings, after),
    dry_run: Boolean(options.dryRun),
    saved_file: null,
  };
  if (options.dryRun || !change.changed) return change;
  change.saved_file = saveOnce(options.stateDir, {
    phone_number: number.phone_number,
    sid: number.sid,
    saved_at: new Date().toISOString(),
    previous: number.settings,
  }).path;
  await applySettings(options.client, number, after);
  return change;
}

/** Puts back the settings saved by the last configure, then forgets them. */
export async function restoreNumber(options: {
  client: TwilioClient;
  e164: string;
  stateDir: string;
  dryRun?: boolean;
}): Promise<NumberChange> {
  const saved = readSaved(options.stateDir, options.e164);
  if (!saved) {
    throw new UsageError(
      `nothing saved for ${options.e164} in ${options.stateDir}: configure-number saves the previous settings when it changes them`,
      'number_nothing_saved',
    );
  }
  const number = await findNumber(options.client, options.e164);
  if (number.sid !== saved.sid) {
    throw new PeerError(
      'twilio',
      'twilio_number_changed',
      `${options.e164} is now ${number.sid}, not ${saved.sid} as saved; not restoring`,
    );
  }
  const change: NumberChange = {
    number: number.phone_number,
    sid: number.sid,
    before: number.settings,
    after: saved.previous,
    changed: !same(number.settings, saved.previous),
    dry_run: Boolean(options.dryRun),
    saved_file: null,
  };
  if (options.dryRun) return change;
  if (change.changed) await applySettings(options.client, number, saved.previous);
  forgetSaved(options.stateDir, options.e164);
  return change;
}
