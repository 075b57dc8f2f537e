import { z } from 'zod';
import { DAY_SPEC, HOURS_SPEC, isTimeZone } from './office-hours.js';

/**
 * The agent file's schema. Every default lives here (house rule 8); the JSON Schema shipped as
 * `agents/agent.schema.json` is generated from it, so editors and this loader agree.
 */

export const REALTIME_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'sage',
  'shimmer',
  'verse',
  'marin',
  'cedar',
] as const;

/**
 * The defaults follow OpenAI's recommendations of 2026-12-07: `gpt-realtime-2.1` replaces
 * `gpt-realtime` (shut down 2027-01-20), `gpt-live-transcribe` the gpt-4o transcription models and
 * whisper-1 (2027-02-26), `gpt-6.1-terra` gpt-5-mini (2026-12-11). See model-lifecycle.ts.
 */
export const DEFAULT_MODEL = 'gpt-realtime-2.1';
export const DEFAULT_VOICE = 'marin';
export const DEFAULT_REALTIME_URL = 'wss://api.openai.com/v1/realtime';
export const DEFAULT_TOOL_TIMEOUT_MS = 10_000;
/** A server that has not connected and listed its tools by then is retried in the background. */
export const DEFAULT_MCP_CONNECT_TIMEOUT_MS = 5_000;
/** A call where neither side has spoken for this long is over (a dead line, a forgotten phone). */
export const DEFAULT_IDLE_TIMEOUT_S = 60;

/**
 * Transcription models the Realtime API documents for `audio.input.transcription.model` (the
 * `AudioTranscription` type of the openai package 7.60). Another name is only a warning: the service
 * is the judge, and this list goes stale as OpenAI ships models.
 */
export const TRANSCRIPTION_MODELS = [
  'gpt-live-transcribe',
  'gpt-transcribe',
  'gpt-realtime-whisper',
  'gpt-4o-mini-transcribe',
  'gpt-4o-mini-transcribe-2025-12-15',
  'gpt-4o-transcribe',
  'gpt-4o-transcribe-diarize',
  'whisper-1',
] as const;
export const DEFAULT_TRANSCRIPTION_MODEL = 'gpt-live-transcribe';
/** Models that take `keywords` and `languages` (the openai package's AudioTranscription notes). */
export const HINTED_TRANSCRIPTION_MODELS: ReadonlySet<string> = new Set([
  'gpt-transcribe',
  'gpt-live-transcribe',
]);

/** ISO-639-1 codes: the only form `transcription.language` takes. */
const ISO_639_1 = new Set(
  (
    'aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ' +
    'ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io ' +
    'is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ' +
    'ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si ' +
    'sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh ' +
    'yi yo za zh zu'
  ).split(' '),
);
export const DEFAULT_MAX_CALL_DURATION_S = 30 * 60;
/** The longest call voice-agent takes on (4 hours). Model sessions are rolled over within it. */
export const MAX_CALL_DURATION_S = 4 * 60 * 60;
export const DEFAULT_FALLBACK_SAY =
  'Sorry, our assistant is not available right now. Please call again later.';

/** A phone number in E.164 form, as Twilio takes it. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;

const E164 = z.string().regex(E164_PATTERN, { error: 'expected an E.164 phone number such as +15551234567' });

const envMap = z.record(z.string(), z.string());

const isoLanguage = z.string().refine((code) => ISO_639_1.has(code), {
  error: 'expected a two-letter ISO-639-1 code such as "en", "es" or "de"',
});

const INTERRUPT_HELP =
  'Caller speech interrupts the agent (barge-in): its audio stops at once and the model forgets what was not heard. false: the agent always finishes what it is saying; a turn the caller ends meanwhile is answered afterwards.';
const CREATE_HELP =
  'true: OpenAI answers at the end of each caller turn. false: voice-agent asks for each answer itself (the same for the caller, but a turn that ends while the agent speaks is queued, not skipped).';

const serverVad = z.strictObject({
  type: z.literal('server_vad'),
  threshold: z.number().min(0).max(1).default(0.5).describe('Speech energy threshold, 0–1.'),
  prefix_padding_ms: z.number().int().min(0).default(300),
  silence_duration_ms: z.number().int().min(0).default(500),
  idle_timeout_ms: z
    .number()
    .int()
    .min(5000)
    .max(30000)
    .optional()
    .describe('When the caller says nothing for this long, the model is prompted to speak (5000–30000).'),
  interrupt_response: z.boolean().default(true).describe(INTERRUPT_HELP),
  create_response: z.boolean().default(true).describe(CREATE_HELP),
});

const semanticVad = z.strictObject({
  type: z.literal('semantic_vad'),
  eagerness: z.enum(['low', 'medium', 'high', 'auto']).default('auto'),
  interrupt_response: z.boolean().default(true).describe(INTERRUPT_HELP),
  create_response: z.boolean().default(true).describe(CREATE_HELP),
});

export const turnDetectionSchema = z.discriminatedUnion('type', [serverVad, semanticVad]);

const realtimeSchema = z.strictObject({
  url: z
    .string()
    .regex(/^wss?:\/\/\S+$/, { error: 'expected a ws:// or wss:// URL' })
    .default(DEFAULT_REALTIME_URL)
    .describe('Realtime endpoint. Overridden by env OPENAI_REALTIME_URL and by --realtime-url.'),
  turn_detection: turnDetectionSchema.default({
    type: 'server_vad',
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 500,
    interrupt_response: true,
    create_response: true,
  }),
  noise_reduction: z.enum(['near_field', 'far_field', 'off']).default('near_field'),
  transcription: z
    .strictObject({
      model: z
        .string()
        .min(1)
        .default(DEFAULT_TRANSCRIPTION_MODEL)
        .describe(
          'The transcription model (gpt-live-transcribe, gpt-transcribe, gpt-realtime-whisper, …). A name voice-agent does not know is a warning: OpenAI decides.',
        ),
      language: isoLanguage
        .optional()
        .describe('The language of the caller, an ISO-639-1 code such as "en".'),
      languages: z
        .array(isoLanguage)
        .min(1)
        .optional()
        .describe('The languages callers may speak, e.g. [en, es] (gpt-live-transcribe and gpt-transcribe).'),
      keywords: z
        .array(z.string().min(1).max(100))
        .min(1)
        .max(100)
        .optional()
        .describe(
          'Words to listen for: your company name, street names, towns (gpt-live-transcribe and gpt-transcribe).',
        ),
      prompt: z
        .string()
        .min(1)
        .optional()
        .describe('Free text that guides transcription (not with gpt-realtime-whisper).'),
      delay: z
        .enum(['minimal', 'low', 'medium', 'high', 'xhigh'])
        .optional()
        .describe('Latency against accuracy (gpt-realtime-whisper only).'),
      enabled: z
        .boolean()
        .default(true)
        .describe('false: no transcription of the caller (records keep only what the agent said).'),
    })
    .default({ model: DEFAULT_TRANSCRIPTION_MODEL, enabled: true })
    .describe('Caller speech transcription (for logs and call records).'),
  speed: z.number().min(0.25).max(1.5).default(1),
});

export const DEFAULT_LIVE_URL = 'wss://api.openai.com/v1/live/sessions';
/** GPT-Live 1.1 (API since 2026-11-20). */
export const DEFAULT_LIVE_MODEL = 'gpt-live-1.1';
/**
 * The Responses model Live delegates tool work to: the one OpenAI's delegation guide and the
 * GPT-Live 1.1 examples configure (gpt-5-mini, the old default, shuts down on 2026-12-11).
 */
export const DEFAULT_LIVE_DELEGATE_MODEL = 'gpt-6-luna';

const liveSchema = z
  .strictObject({
    model: z.string().min(1).default(DEFAULT_LIVE_MODEL).describe('The GPT-Live model.'),
    url: z
      .string()
      .regex(/^wss?:\/\/\S+$/, { error: 'expected a ws:// or wss:// URL' })
      .default(DEFAULT_LIVE_URL)
      .describe('GPT-Live endpoint. Overridden by env OPENAI_LIVE_URL and by --realtime-url.'),
    delegation: z
      .enum(['responses', 'client'])
      .default('responses')
      .describe(
        'responses: a backend model run by OpenAI decides the tool calls, voice-agent runs them (MCP and built-ins). client: no tools are offered.',
      ),
    responses: z
      .strictObject({
        model: z.string().min(1).default(DEFAULT_LIVE_DELEGATE_MODEL),
        instructions: z
          .string()
          .min(1)
          .optional()
          .describe("The backend's business rules and tool workflow. Default: the agent's instructions."),
      })
      .default({ model: DEFAULT_LIVE_DELEGATE_MODEL })
      .describe('The backend model of responses delegation.'),
    barge_in: z
      .strictObject({
        threshold: z
          .number()
          .min(50)
          .max(8000)
          .default(600)
          .describe('Caller loudness (μ-law RMS) that counts as speech while the agent talks.'),
        start_ms: z.number().int().min(20).max(1000).default(120),
        stop_ms: z.number().int().min(100).max(3000).default(700),
        interrupt_after_ms: z
          .number()
          .int()
          .min(0)
          .max(3000)
          .default(600)
          .describe(
            'Caller speech over the agent stops it only after this long, or when GPT-Live stops by itself: an "mm-hm" or a cough does not cut it off. 0: any caller sound stops it at once.',
          ),
      })
      .default({ threshold: 600, start_ms: 120, stop_ms: 700, interrupt_after_ms: 600 })
      .describe(
        'GPT-Live reports no caller speech: voice-agent detects it by energy, to stop the agent’s queued audio at Twilio and to count turns.',
      ),
  })
  .describe('The GPT-Live engine (engine: live).');

const mcpCommon = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'expected letters, digits, "_" or "-" (at most 32)' }),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_TOOL_TIMEOUT_MS)
    .describe('Longest a tool call may take.'),
  connect_timeout_ms: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_MCP_CONNECT_TIMEOUT_MS)
    .describe(
      'Longest a connection (and tool listing) may take before the server is retried in the background.',
    ),
  allowed_tools: z
    .array(z.string().min(1))
    .optional()
    .describe('Only these tools are offered to the model (names, or patterns with * and ?).'),
  denied_tools: z
    .array(z.string().min(1))
    .optional()
    .describe('These tools are never offered (names, or patterns with * and ?).'),
};

const mcpHttpServer = z.strictObject({
  ...mcpCommon,
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  transport: z.enum(['auto', 'streamable-http', 'sse']).default('auto'),
  headers: envMap.optional(),
});

const mcpStdioServer = z.strictObject({
  ...mcpCommon,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: envMap.optional().describe('The child does not inherit the environment: pass what it needs here.'),
  cwd: z.string().optional().describe('Working directory, relative to the agent file.'),
});

export const mcpServerSchema = z.union([mcpHttpServer, mcpStdioServer]);

const toolsSchema = z.strictObject({
  end_call: z.boolean().default(true).describe('Let the agent hang up after saying goodbye.'),
  transfer_call: z
    .strictObject({
      to: E164,
      description: z.string().min(1).default('Transfer the caller to a human colleague.'),
      ring_timeout_s: z
        .number()
        .int()
        .min(5)
        .max(60)
        .default(20)
        .describe('How long the transfer rings before the caller is offered to leave a message.'),
      on_no_answer: z
        .enum(['message', 'agent'])
        .default('message')
        .describe(
          'When nobody answers the transfer: message — the caller can leave a voicemail (recorded, in the call record); agent — the caller is back with the agent.',
        ),
      office_hours: z
        .strictObject({
          timezone: z
            .string()
            .refine(isTimeZone, { error: 'not a time zone: use an IANA name such as America/Chicago' }),
          hours: z
            .record(
              z.string().regex(DAY_SPEC, { error: 'expected a day or a range: mon, sat, mon-fri' }),
              z.string().regex(HOURS_SPEC, { error: 'expected HH:MM-HH:MM, e.g. 08:00-18:00' }),
            )
            .describe('Opening hours by day or day range, e.g. mon-fri: "08:00-18:00".'),
        })
        .optional()
        .describe(
          'Transfers are offered only while the office is open; outside, the agent offers to take a message.',
        ),
    })
    .optional(),
  take_message: z
    .boolean()
    .default(false)
    .describe("Let the agent take a message (name, number, message): kept in the call's record."),
  send_dtmf: z
    .boolean()
    .default(false)
    .describe('Let the agent press keypad keys (in-band tones), e.g. to get through a phone menu.'),
});

const fallbackSchema = z.union([z.strictObject({ say: z.string().min(1) }), z.strictObject({ dial: E164 })]);

const callSchema = z.strictObject({
  max_concurrent: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'At most this many calls of this agent at once, across every process and server sharing the database (serve --workers, DATABASE_URL). A call over it hears the fallback at once. Default: no limit.',
    ),
  max_duration_s: z
    .number()
    .int()
    .positive()
    .max(MAX_CALL_DURATION_S, { error: 'at most 14400 (4 hours)' })
    .default(DEFAULT_MAX_CALL_DURATION_S)
    .describe(
      'Hard cap on a call, in seconds (at most 14400). Longer than the 60-minute OpenAI session limit is fine: sessions are rolled over with the conversation replayed.',
    ),
  idle_timeout_s: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_IDLE_TIMEOUT_S)
    .describe('End the call after this long with neither side speaking.'),
  fallback: fallbackSchema
    .default({ say: DEFAULT_FALLBACK_SAY })
    .describe('What the caller hears when the agent cannot be reached.'),
});

const toolSettingsSchema = z.strictObject({
  filler: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Said to the caller when the tool has not answered after filler_after_ms, so there is no dead air.',
    ),
  filler_after_ms: z.number().int().min(0).max(30_000).default(1_500),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .max(120_000)
    .optional()
    .describe("Longest the tool may take in a call (beats its server's timeout_ms when shorter)."),
  on_timeout: z
    .string()
    .min(1)
    .optional()
    .describe('What the agent tells the caller when the tool times out.'),
  confirm: z
    .boolean()
    .optional()
    .describe(
      "Run only after the caller confirmed: the first call asks the model to read the details back and get a yes. Default: the tool's MCP destructiveHint.",
    ),
  redact: z
    .boolean()
    .default(false)
    .describe('Keep this tool’s arguments and results out of logs and call records.'),
});

const price = z.number().nonnegative();
const recordsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Keep a record of every call (history, latency, cost).'),
  audio: z
    .boolean()
    .default(true)
    .describe(
      'Keep the recording (caller and agent as the two channels of one WAV). false: transcripts only. Where the law requires it, announce recording in the greeting.',
    ),
  retention_days: z
    .number()
    .int()
    .positive()
    .default(30)
    .describe('Records (and recordings) older than this are deleted.'),
  redact: z
    .boolean()
    .default(false)
    .describe('Keep what was said and tool payloads out of records (their lengths only).'),
  prices: z
    .strictObject({
      text_input: price,
      cached_text_input: price,
      text_output: price,
      audio_input: price,
      cached_audio_input: price,
      audio_output: price,
      transcription_per_minute: price.optional(),
    })
    .optional()
    .describe(
      "USD per million tokens for the model (and per minute of caller speech for transcription), when OpenAI's published prices do not apply.",
    ),
});

const WEBHOOK_EVENTS = ['call.ended', 'message.taken', 'voicemail.left'] as const;
const hookEvents = z
  .array(z.enum(WEBHOOK_EVENTS))
  .default([...WEBHOOK_EVENTS])
  .describe('What to send.');

/**
 * A URL voice-agent sends callers' data to: https://, or http:// to this machine only (a receiver
 * beside serve, a test). Plain http elsewhere would send transcripts and numbers in the clear.
 */
const dataUrl = z
  .url({ protocol: /^https?$/, error: 'expected an https:// URL' })
  .refine((url) => url.startsWith('https://') || LOOPBACK_HTTP.test(url), {
    error:
      'expected an https:// URL (http:// only for localhost or 127.0.0.1): callers’ data must not travel in the clear',
  });
const LOOPBACK_HTTP = /^http:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?(\/|$)/;

const urlHookSchema = z.strictObject({
  url: dataUrl,
  secret: z
    .string()
    .min(16, { error: 'at least 16 characters: it signs every delivery' })
    .describe('Signs each body (HMAC-SHA256); reference it as ${VAR}.'),
  events: hookEvents,
});

const toolHookSchema = z.strictObject({
  tool: z
    .string()
    .min(1)
    .describe(
      'An MCP tool of this agent, called with { event, data } (data: the same JSON a URL hook receives).',
    ),
  events: hookEvents,
});

/** OpenAI's replacement for gpt-5-mini (shut down 2026-12-11), a text model of the Responses API. */
export const DEFAULT_POST_CALL_MODEL = 'gpt-6.1-terra';

const postCallSchema = z
  .strictObject({
    schema: z
      .record(z.string(), z.unknown())
      .refine((s) => s.type === 'object' && typeof s.properties === 'object' && s.properties !== null, {
        error: 'expected a JSON Schema of an object: type: object, with properties',
      })
      .describe(
        'JSON Schema of what to extract. Properties not listed in required may come back null; nothing else may be added.',
      ),
    instructions: z
      .string()
      .min(1)
      .optional()
      .describe('Extra guidance for the extraction (e.g. what counts as a follow-up).'),
    model: z.string().min(1).default(DEFAULT_POST_CALL_MODEL).describe('A text model of the Responses API.'),
    url: dataUrl
      .optional()
      .describe(
        'Responses API endpoint. Default: env OPENAI_RESPONSES_URL, else the host of the Realtime endpoint (so --realtime-url points both at a stand-in).',
      ),
    timeout_ms: z.number().int().min(1_000).max(120_000).default(30_000),
  })
  .describe(
    'After each call, a text model fills this JSON Schema from the transcript and tool calls (one Responses API request); the result is kept in the call record, shown on the calls page and sent to webhooks.',
  );

const outboundSchema = z
  .strictObject({
    from: E164.optional().describe('The caller ID of outbound calls. Default: twilio.phone_number.'),
    greeting: z
      .string()
      .min(1)
      .optional()
      .describe(
        'What the agent says when someone answers (default: the greeting). {{name}} takes --context values.',
      ),
    instructions: z
      .string()
      .min(1)
      .optional()
      .describe('Added to the instructions on outbound calls. {{name}} takes --context values.'),
    voicemail: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Left as a message when an answering machine picks up (then the call ends). Without it, the agent hangs up on machines.',
      ),
    machine_detection: z
      .boolean()
      .default(true)
      .describe(
        "Twilio's asynchronous answering-machine detection: the agent greets at once and switches to the voicemail when a machine is detected.",
      ),
    allowed_destinations: z
      .array(
        z.string().regex(/^\+[1-9]\d{0,14}$/, { error: 'expected an E.164 prefix such as "+1" or "+4420"' }),
      )
      .min(1)
      .optional()
      .describe(
        'Numbers calls may go to, by E.164 prefix (e.g. ["+1"]). Default: the country calling code of the agent\'s own number. Premium-rate, shared-cost and satellite numbers are never called.',
      ),
    caller_ids: z
      .array(E164)
      .default([])
      .describe(
        "More of the account's numbers the agent may call from (besides outbound.from and twilio.phone_number).",
      ),
    max_per_minute: z
      .number()
      .int()
      .positive()
      .default(10)
      .describe('At most this many outbound calls a minute (per serving process).'),
    max_per_day: z
      .number()
      .int()
      .positive()
      .default(200)
      .describe('At most this many outbound calls a day (per serving process).'),
  })
  .describe('Calls the agent places itself (voice-agent call, POST /calls/outbound).');

const loggingSchema = z.strictObject({
  transcripts: z.boolean().default(false).describe('Log what the caller and agent said (off: redacted).'),
  tool_payloads: z.boolean().default(false).describe('Log tool arguments and results (off: redacted).'),
});

export const agentSchema = z
  .strictObject({
    name: z.string().min(1),
    description: z.string().optional(),
    instructions: z.string().min(1).optional(),
    instructions_file: z.string().min(1).optional().describe('Path relative to the agent file.'),
    greeting: z.string().min(1).optional().describe('When set, the agent speaks first with this.'),
    engine: z
      .enum(['realtime', 'live'])
      .default('realtime')
      .describe('realtime: the OpenAI Realtime API (model, realtime.*). live: GPT-Live (live.*).'),
    model: z.string().min(1).default(DEFAULT_MODEL).describe('The Realtime model (engine: realtime).'),
    voice: z.enum(REALTIME_VOICES).default(DEFAULT_VOICE),
    realtime: realtimeSchema.default(realtimeSchema.parse({})),
    live: liveSchema.default(liveSchema.parse({})),
    mcp_servers: z.array(mcpServerSchema).default([]),
    tools: toolsSchema.default(toolsSchema.parse({})),
    tool_settings: z
      .record(z.string().min(1), toolSettingsSchema)
      .default({})
      .describe(
        'How tools behave on a phone, by tool name or pattern (book_*): fillers, timeouts, confirmation, redaction.',
      ),
    call: callSchema.default(callSchema.parse({})),
    twilio: z.strictObject({ phone_number: E164.optional() }).default({}),
    logging: loggingSchema.default({ transcripts: false, tool_payloads: false }),
    records: recordsSchema.default(recordsSchema.parse({})),
    webhooks: z
      .array(z.union([urlHookSchema, toolHookSchema]))
      .default([])
      .describe(
        "Send each call's summary (with its post-call outcome), each message taken and each voicemail to your systems: a signed, retried POST to a URL, or a call of one of the agent's MCP tools.",
      ),
    post_call: postCallSchema.optional(),
    outbound: outboundSchema.default(outboundSchema.parse({})),
    simulation: z
      .strictObject({
        env: envMap
          .default({})
          .describe(
            'Environment values that replace the real ones in simulate and voice-agent test (e.g. a throwaway database: ${VOICE_AGENT_SCRATCH_DIR}/moving.sqlite).',
          ),
      })
      .default({ env: {} })
      .describe('What changes when the agent runs in a simulation, so it never touches production data.'),
  })
  .superRefine((agent, ctx) => {
    if (agent.instructions && agent.instructions_file) {
      ctx.addIssue({
        code: 'custom',
        path: ['instructions_file'],
        message: 'give either instructions or instructions_file, not both',
      });
    }
    if (!agent.instructions && !agent.instructions_file) {
      ctx.addIssue({
        code: 'custom',
        path: ['instructions'],
        message: 'instructions or instructions_file is required',
      });
    }
    const seen = new Set<string>();
    agent.mcp_servers.forEach((server, i) => {
      if (seen.has(server.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['mcp_servers', i, 'name'],
          message: `duplicate server name "${server.name}"`,
        });
      }
      seen.add(server.name);
    });
  });

/** The agent file as written (after defaults). */
export type AgentFile = z.output<typeof agentSchema>;
export type McpServerConfig = AgentFile['mcp_servers'][number];
export type ToolSettings = z.output<typeof toolSettingsSchema>;
export type TurnDetection = z.output<typeof turnDetectionSchema>;
export type WebhookConfig = AgentFile['webhooks'][number];
export type PostCallConfig = z.output<typeof postCallSchema>;
export type OutboundConfig = z.output<typeof outboundSchema>;

/** The agent after loading: instructions resolved, source path kept for messages. */
export type AgentConfig = Omit<AgentFile, 'instructions' | 'instructions_file'> & {
  instructions: string;
  /** Absolute path of the YAML file this came from. */
  source: string;
};

/** The model that speaks on the agent's calls (its engine's). */
export function speechModelOf(agent: Pick<AgentFile, 'engine' | 'model' | 'live'>): string {
  return agent.engine === 'live' ? agent.live.model : agent.model;
}

/** JSON Schema of the agent file, for editors (yaml-language-server) and `voice-agent schema`. */
export function agentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(agentSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    $schema: schema.$schema,
    title: 'voice-agent agent file',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
