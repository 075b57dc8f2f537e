import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../src/cli/program.js';
import { loadAgent } from '../../src/config/load.js';
import { ROOT } from '../helpers/cli.js';

/** Every page a user can reach from the README. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(path: string): Set<string> {
  const text = readFileSync(path, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('the README and docs', () => {
  it('the README is a front door: under 300 lines, and links every reference page', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThan(300);
    const linked = PAGES.filter((p) => p !== 'README.md');
    expect(linked.length).toBeGreaterThan(6);
    for (const page of linked) expect(readme, page).toContain(`](${page}`);
  });

  it('every relative link and anchor resolves', () => {
    const broken: string[] = [];
    let links = 0;
    for (const page of PAGES) {
      const path = join(ROOT, page);
      const text = readFileSync(path, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // https:, mailto:
        links++;
        const [file, anchor] = target!.split('#');
        const goal = file ? resolve(dirname(path), file) : path;
        if (!existsSync(goal)) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor && goal.endsWith('.md') && !anchorsOf(goal).has(anchor))
          broken.push(`${page}: ${target} (no such heading)`);
      }
    }
    expect(links).toBeGreaterThan(30);
    expect(broken).toEqual([]);
  });

  it('the README’s agent file example is a valid agent file', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((y) => y.startsWith('name:'));
    expect(example).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'va-docs-'));
    try {
      writeFileSync(join(dir, 'agent.yaml'), example!);
      const { agent } = loadAgent(join(dir, 'agent.yaml'), { env: {}, dataDir: dir });
      expect(agent.name).toBe('moving');
      expect(agent.tool_settings.book_move?.confirm).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every command and flag of the CLI is in the CLI reference', () => {
    const reference = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT };
    const missing: string[] = [];
    let flags = 0;
    const visit = (command: ReturnType<typeof createProgram>, path: string[]) => {
      for (const sub of command.commands) {
        const name = [...path, sub.name()];
        const spelled = name.join(' ');
        if (!reference.includes(`voice-agent ${spelled}`) && !reference.includes(`\`${spelled}`))
          missing.push(spelled);
        for (const option of sub.options) {
          flags++;
          if (option.long && !reference.includes(option.long))
            missing.push(`${name.join(' ')} ${option.long}`);
        }
        visit(sub, name);
      }
    };
    visit(createProgram(io), []);
    expect(flags).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  it('every key of the agent file’s JSON Schema is in the agent file reference', () => {
    const reference = readFileSync(join(ROOT, 'docs/agent-file.md'), 'utf8');
    const schema = JSON.parse(readFileSync(join(ROOT, 'agents/agent.schema.json'), 'utf8'));
    const keys = new Set<string>();
    const walk = (node: unknown) => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      for (const [key, value] of Object.entries((n.properties ?? {}) as Record<string, unknown>)) {
        keys.add(key);
        walk(value);
      }
      for (const list of ['anyOf', 'oneOf', 'allOf'] as const)
        for (const x of (n[list] as unknown[]) ?? []) walk(x);
      walk(n.items);
      walk(n.additionalProperties);
    };
    walk(schema);
    expect(keys.size).toBeGreaterThan(80);
    // a key is documented where it appears in code type: `key`, `parent.key` or `…key`
    const undocumented = [...keys].filter((k) => !new RegExp(`\`[^\`]*\\b${k}\\b[^\`]*\``).test(reference));
    expect(undocumented).toEqual([]);
  });
});
