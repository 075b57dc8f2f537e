import type { AgentConfig } from '../../src/config/schema.js';
import type { VoiceServerOptions } from '../../src/host/voice-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { CallLedger, type RecordMoment } from '../../src/records/call-ledger.js';
import type { CallRecord } from '../../src/records/call-record.js';
import { recordContext } from '../../src/records/call-records.js';

/**
 * The server options that build each call's record and hand it to these readers, as serve does:
 * every call event, and voicemails left after the call.
 */
export function recordReaders(
  agent: AgentConfig,
  ...readers: { onRecord(moment: RecordMoment, record: CallRecord): void }[]
): Pick<VoiceServerOptions, 'onCallEvent' | 'onVoicemail'> {
  const ledger = new CallLedger({
    context: recordContext(agent, false),
    logger: createLogger({ level: 'error', json: true, write: () => {} }),
  });
  for (const reader of readers) ledger.listen((moment, record) => reader.onRecord(moment, record));
  return {
    onCallEvent: (callSid, event) => ledger.onEvent(callSid, event),
    onVoicemail: (callSid, voicemail) => ledger.voicemail(callSid, voicemail),
  };
}
