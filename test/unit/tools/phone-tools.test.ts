import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CallControl, ToolSource } from '../../../src/bridge/tool-ports.js';
import { isOpen } from '../../../src/config/office-hours.js';
import { createLogger } from '../../../src/observability/logger.js';
import { AgentTools } from '../../../src/tools/agent-tools.js';
import { matchesToolPattern } from '../../../src/tools/tool-pattern.js';
import { testAgent } from '../../helpers/call-harness.js';

/** A tool source whose tools answer after `ms` (or never), counting runs. */
function source(
  ms: Record<string, number | 'never'>,
  destructive: string[] = [],
): ToolSource & { runs: string[] } {
  const runs: string[] = [];
  return {
    runs,
    definitions: () =>
      Object.keys(ms).map((name) => ({
        name,
        description: name,
        parameters: { type: 'object' },
        destructive: destructive.includes(name),
      })),
    has: (name) => name in ms,
    call: (name, _args, signal) => {
      runs.push(name);
      const wait = ms[name]!;
      return new Promise((resolve) => {
        if (wait !== 'never') setTimeout(() => resolve({ ok: true, output: `{"ok":"${name}"}` }), wait);
        signal.addEventListener('abort', () =>
          resolve({ ok: false, code: 'cancelled', output: '{"error":"aborted"}' }),
        );
      });
    },
  };
}

function control(): CallControl & {
  turns: number;
  said: string[];
  messages: { name: string; phone: string; message: string }[];
  tones: Buffer[];
} {
  const c = {
    callSid: 'CA1',
    turns: 0,
    said: [] as string[],
    get callerTurns() {
      return c.turns;
    },
    finishAfterSpeech: () => {},
    sayWhileWaiting: (text: string) => c.said.push(text),
    messages: [] as { name: string; phone: string; message: string }[],
    tones: [] as Buffer[],
    takeMessage: (m: { name: string; phone: string; message: string }) => c.messages.push(m),
    playTones: (audio: Buffer) => c.tones.push(audio),
  };
  return c;
}

const logs: string[] = [];
const logger = createLogger({ level: 'info', json: true, write: (l) => logs.push(l) });
const call = (name: string, args: Record<string, unknown> = {}) => ({
  name,
  arguments: JSON.stringify(args),
  callId: `c-${Math.random()}`,
});

describe('tools on a phone', () => {
  afterEach(() => {
    vi.useRealTimers();
    logs.length = 0;
  });

  it('patterns: exact names and * / ? wildcards', () => {
    expect(matchesToolPattern('book_move', 'book_*')).toBe(true);
    expect(matchesToolPattern('get_booking', 'book_*')).toBe(false);
    expect(matchesToolPattern('get_quote', 'get_quot?')).toBe(true);
    expect(matchesToolPattern('get.quote', 'get_quote')).toBe(false);
  });

  it('a slow tool gets its filler said; a fast one does not', async () => {
    vi.useFakeTimers();
    const tools = new AgentTools(
      testAgent({
        tool_settings: { 'get_*': { filler: 'One moment, let me check.', filler_after_ms: 1000 } },
      }),
      source({ get_quote: 3000, get_fast: 200 }),
    );
    const ctl = control();
    const exec = tools.forCall(ctl, logger);
    const fast = exec.execute(call('get_fast'), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(300);
    expect(await fast).toEqual({ ok: true, output: '{"ok":"get_fast"}' });
    const slow = exec.execute(call('get_quote'), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(1500);
    expect(ctl.said).toEqual(['One moment, let me check.']);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await slow).toEqual({ ok: true, output: '{"ok":"get_quote"}' });
    expect(ctl.said).toHaveLength(1);
  });

  it('a tool that times out is stopped, and the model gets the words for the caller', async () => {
    vi.useFakeTimers();
    const tools = new AgentTools(
      testAgent({
        tool_settings: {
          get_quote: { timeout_ms: 2000, on_timeout: 'Sorry, our price list is slow today.' },
        },
      }),
      source({ get_quote: 'never' }),
    );
    const pending = tools.forCall(control(), logger).execute(call('get_quote'), new AbortController().signal);
    await vi.advanceTimersByTimeAsync(2001);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, code: 'timeout' });
    const output = JSON.parse(result.output);
    expect(output.error).toContain('did not answer within 2 seconds');
    expect(output.error).toContain('Tell the caller: "Sorry, our price list is slow today."');
  });

  it('confirmation: the first call asks for a yes; the same call after the caller spoke runs, once', async () => {
    const src = source({ book_move: 0, cancel_booking: 0 }, ['cancel_booking']);
    const tools = new AgentTools(testAgent({ tool_settings: { book_move: { confirm: true } } }), src);
    const ctl = control();
    const exec = tools.forCall(ctl, logger);
    const signal = new AbortController().signal;
    const details = { date: '2027-03-16', slot: 'morning' };
    expect(JSON.parse((await exec.execute(call('book_move', details), signal)).output).status).toBe(
      'confirmation_required',
    );
    // the model calls again without waiting for the caller: asked again, nothing booked
    expect(JSON.parse((await exec.execute(call('book_move', details), signal)).output).status).toBe(
      'confirmation_required',
    );
    ctl.turns++; // "yes, please"
    // other details than were read back: read them back again
    expect(
      JSON.parse((await exec.execute(call('book_move', { ...details, slot: 'afternoon' }), signal)).output)
        .status,
    ).toBe('confirmation_required');
    ctl.turns++;
    expect(await exec.execute(call('book_move', { slot: 'afternoon', date: '2027-03-16' }), signal)).toEqual({
      ok: true,
      output: '{"ok":"book_move"}',
    });
    expect(src.runs).toEqual(['book_move']);
    // MCP destructiveHint needs confirmation without any setting
    expect(
      JSON.parse((await exec.execute(call('cancel_booking', { ref: 'B1' }), signal)).output).status,
    ).toBe('confirmation_required');
    expect(src.runs).toEqual(['book_move']);
  });

  it('redact: keeps a tool’s payloads out of the log even with logging.tool_payloads on', async () => {
    const tools = new AgentTools(
      testAgent({ logging: { tool_payloads: true }, tool_settings: { get_card: { redact: true } } }),
      source({ get_card: 0, get_quote: 0 }),
    );
    const exec = tools.forCall(control(), logger);
    await exec.execute(call('get_card', { number: '4111111111111111' }), new AbortController().signal);
    await exec.execute(call('get_quote', { size: 'studio' }), new AbortController().signal);
    expect(logs.join('\n')).not.toContain('4111111111111111');
    expect(logs.join('\n')).toContain('studio');
  });

  it('take_message keeps a complete message; send_dtmf plays keypad tones as audio', async () => {
    const tools = new AgentTools(testAgent({ tools: { take_message: true, send_dtmf: true } }), undefined);
    expect(tools.definitions().map((d) => d.name)).toEqual(['end_call', 'take_message', 'send_dtmf']);
    const ctl = control();
    const exec = tools.forCall(ctl, logger);
    const signal = new AbortController().signal;
    const incomplete = await exec.execute(call('take_message', { name: 'Jane', message: 'Call me' }), signal);
    expect(incomplete).toMatchObject({ ok: false, code: 'invalid_arguments' });
    expect(JSON.parse(incomplete.output).error).toContain('phone');
    await exec.execute(
      call('take_message', { name: 'Jane', phone: '+15550100199', message: 'Call me back' }),
      signal,
    );
    expect(ctl.messages).toEqual([{ name: 'Jane', phone: '+15550100199', message: 'Call me back' }]);

    expect(
      JSON.parse((await exec.execute(call('send_dtmf', { digits: '1x' }), signal)).output).error,
    ).toContain('keypad keys');
    await exec.execute(call('send_dtmf', { digits: '1 #' }), signal);
    // two digits: 100 ms of tone and 80 ms of gap each, 8 bytes per ms
    expect(ctl.tones[0]!.length).toBe(2 * 180 * 8);
    expect(ctl.tones[0]!.subarray(0, 800).some((b) => b !== 0xff)).toBe(true);
    expect(ctl.tones[0]!.subarray(800, 1440).every((b) => b === 0xff)).toBe(true);
  });
});

describe('office hours', () => {
  afterEach(() => vi.useRealTimers());
  const office = { timezone: 'America/Chicago', hours: { 'mon-fri': '08:00-18:00', sat: '09:00-13:00' } };
  it('open by the office’s own clock, by day and day range', () => {
    // 2026-11-25 is a Wednesday; Chicago is UTC-6 in November
    expect(isOpen(office, new Date('2026-11-25T14:00:00Z'))).toBe(true); // 08:00 Wed
    expect(isOpen(office, new Date('2026-11-25T13:59:00Z'))).toBe(false); // 07:59
    expect(isOpen(office, new Date('2026-11-26T00:00:00Z'))).toBe(false); // 18:00 Wed: closed
    expect(isOpen(office, new Date('2026-11-28T16:00:00Z'))).toBe(true); // 10:00 Sat
    expect(isOpen(office, new Date('2026-11-29T16:00:00Z'))).toBe(false); // Sunday
  });

  it('outside office hours transfer_call is not offered, and refused if called anyway', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-29T16:00:00Z'), toFake: ['Date'] });
    const agent = testAgent({
      tools: { transfer_call: { to: '+15005550006', office_hours: office }, take_message: true },
    });
    const tools = new AgentTools(agent, undefined);
    expect(tools.definitions().map((d) => d.name)).toEqual(['end_call', 'take_message']);
    const refused = await tools
      .forCall(control(), logger)
      .execute(call('transfer_call'), new AbortController().signal);
    expect(refused).toMatchObject({ ok: false, code: 'refused' });
    const output = JSON.parse(refused.output);
    expect(output.error).toContain(
      'The office is closed now (open mon-fri 08:00-18:00, sat 09:00-13:00 (America/Chicago))',
    );
    expect(output.error).toContain('offer to take a message');
    vi.setSystemTime(new Date('2026-11-25T16:00:00Z'));
    expect(tools.definitions().map((d) => d.name)).toContain('transfer_call');
  });
});
