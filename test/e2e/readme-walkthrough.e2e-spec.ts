import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { freePort, sleep } from '../support/services.js';

/*
 * The README's curl walkthrough, run literally against the production build, so it cannot drift.
 *
 * Which blocks: every ```bash block in README.md whose fence is preceded (blank lines aside) by the
 * line `<!-- walkthrough -->`. They run in order, each in its own `bash -e -o pipefail`, all in one
 * temporary directory (so files carry over from block to block, shell variables do not), against one
 * server started fresh with the embedded defaults (`node dist/main.js`: run `npm run build` first).
 * The substitutions: `localhost:3000` → `localhost:<a free port>`, and `node scripts/` → the repository's
 * scripts folder; the blocks get the server's DATA_DIR, so `node scripts/outbox.mjs` reads its outbox.
 *
 * What is asserted:
 * - every command of a block succeeds (exit status 0: `-e`, `pipefail`);
 * - every command that calls curl ends with an expectation comment: `# <status>`, optionally followed
 *   by a problem `code` (`# 401 session_revoked: …`). Prose after the status starts with punctuation
 *   (`# 200: …`, `# 201 {…}`, `# 200 (…)`); a word right after the status is read as the expected code.
 *   Each request the command makes (a `for` loop may make several) must answer that status, and, when a
 *   code is given, a problem-details body with that `code`. curl is wrapped in a shell function that
 *   records each response's status line (`-D`) and body (`tee`) without changing what the reader sees.
 *
 * Timing: nothing here depends on the machine's speed except the walkthrough's own `sleep 11`, which
 * outlasts the documented default REFRESH_REUSE_GRACE_SECONDS (10) by a second; the requests around it
 * take milliseconds. The server runs with that default, as a reader's `npm start` does.
 *
 * With REDIS_URL / DATABASE_URL set, the server uses them (as `npm test` against real services does).
 * The database is then not fresh, so the walkthrough's email is made unique; and rate-limit counters
 * in a shared Redis are shared with whatever else ran from 127.0.0.1 in the last minute, so the
 * THROTTLE_* limits are raised there. With the embedded defaults nothing is changed.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const MARKER = '<!-- walkthrough -->';
const WALKTHROUGH_EMAIL = 'ada@example.com';

export interface Expectation {
  status: number;
  code?: string;
}

export interface WalkthroughCommand {
  /** The command as written (continuation lines joined with newlines). */
  text: string;
  /** 1-based line in README.md where the command starts. */
  line: number;
  expectation?: Expectation;
  callsCurl: boolean;
}

export interface WalkthroughBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  commands: WalkthroughCommand[];
}

/** The ```bash blocks marked with `<!-- walkthrough -->`, in document order. */
export function walkthroughBlocks(markdown: string): WalkthroughBlock[] {
  const lines = markdown.split('\n');
  const blocks: WalkthroughBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```/.test(lines[i])) continue;
    const fence = i;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    let previous = fence - 1;
    while (previous >= 0 && lines[previous].trim() === '') previous--;
    if (previous >= 0 && lines[previous].trim() === MARKER) {
      if (!/^```bash\s*$/.test(lines[fence])) throw new Error(`README.md:${fence + 1}: a walkthrough block must be a \`\`\`bash block`);
      const body = lines.slice(fence + 1, end);
      blocks.push({ line: fence + 1, code: body.join('\n'), commands: splitCommands(body, fence + 2) });
    }
    i = end;
  }
  return blocks;
}

/** Where a shell comment starts on this line (outside quotes), or -1. */
function commentStart(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return i;
  }
  return -1;
}

/** `# 401 session_revoked: …` → {401, session_revoked}; `# 200: …` → {200}; prose → undefined. */
export function parseExpectation(comment: string): Expectation | undefined {
  const match = /^#\s*([1-5]\d\d)(?![\w])(?:\s+([a-z][a-z0-9]*(?:_[a-z0-9]+)*)(?![\w]))?/.exec(comment.trim());
  if (!match) return undefined;
  return { status: Number(match[1]), ...(match[2] ? { code: match[2] } : {}) };
}

function splitCommands(lines: string[], firstLine: number): WalkthroughCommand[] {
  const commands: WalkthroughCommand[] = [];
  let current: string[] = [];
  let start = 0;
  lines.forEach((line, index) => {
    if (current.length === 0) {
      if (line.trim() === '' || line.trim().startsWith('#')) return;
      start = firstLine + index;
    }
    current.push(line);
    if (/\\$/.test(line)) return;
    const at = commentStart(line);
    const code = current.map((l, i) => (i === current.length - 1 && at >= 0 ? l.slice(0, at) : l)).join('\n');
    commands.push({
      text: current.join('\n'),
      line: start,
      expectation: at >= 0 ? parseExpectation(line.slice(at)) : undefined,
      callsCurl: /(^|[\s;&|(])curl\s/.test(code),
    });
    current = [];
  });
  if (current.length > 0) throw new Error(`README.md:${start}: a walkthrough command ends with a line continuation`);
  return commands;
}

/** The block as a script that records, around each command, which curl responses it produced. */
function instrument(block: WalkthroughBlock, port: number, email: string): string {
  const prelude = [
    'set -e -o pipefail',
    '__count() { cat "$WALKTHROUGH_STATE/count" 2>/dev/null || echo 0; }',
    '__mark() { echo "$1 $2 $(__count)" >> "$WALKTHROUGH_STATE/marks"; }',
    'curl() {',
    '  local n=$(( $(__count) + 1 )); echo "$n" > "$WALKTHROUGH_STATE/count"',
    '  command curl -D "$WALKTHROUGH_STATE/$n.headers" "$@" | tee "$WALKTHROUGH_STATE/$n.body"',
    '  return "${PIPESTATUS[0]}"',
    '}',
  ];
  const body = block.commands.flatMap((command, index) => [`__mark ${index} begin`, command.text, `__mark ${index} end`]);
  return (
    [...prelude, ...body, '']
      .join('\n')
      .replaceAll('localhost:3000', `localhost:${port}`)
      // Ada's addresses (ada@example.com, then ada@new.example.com), made unique on a shared database.
      .replaceAll(`${WALKTHROUGH_EMAIL.split('@')[0]}@`, `${email.split('@')[0]}@`)
      .replaceAll('node scripts/', `node ${join(root, 'scripts')}/`)
  );
}

interface Response {
  status: number;
  body: string;
}

/** The responses each command produced, by command index. */
function responsesByCommand(state: string): Map<number, Response[]> {
  const byCommand = new Map<number, Response[]>();
  const marks = existsSync(join(state, 'marks')) ? readFileSync(join(state, 'marks'), 'utf8').trim().split('\n') : [];
  const begins = new Map<number, number>();
  for (const mark of marks) {
    const [index, kind, count] = mark.split(' ');
    if (kind === 'begin') begins.set(Number(index), Number(count));
    else {
      const responses: Response[] = [];
      for (let n = (begins.get(Number(index)) ?? 0) + 1; n <= Number(count); n++) {
        const headers = existsSync(join(state, `${n}.headers`)) ? readFileSync(join(state, `${n}.headers`), 'utf8') : '';
        const statuses = [...headers.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => Number(m[1]));
        responses.push({
          status: statuses.at(-1) ?? 0,
          body: existsSync(join(state, `${n}.body`)) ? readFileSync(join(state, `${n}.body`), 'utf8') : '',
        });
      }
      byCommand.set(Number(index), responses);
    }
  }
  return byCommand;
}

function run(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (status) => resolvePromise({ status, output }));
  });
}

/** Problems with one block's run, as readable lines (empty: the block is right). */
export function checkBlock(block: WalkthroughBlock, responses: Map<number, Response[]>): string[] {
  const problems: string[] = [];
  block.commands.forEach((command, index) => {
    const where = `README.md:${command.line}`;
    if (command.callsCurl && !command.expectation) {
      problems.push(`${where}: a curl command without an expectation comment (# <status> [code]): ${command.text}`);
      return;
    }
    if (!command.expectation) return;
    const got = responses.get(index);
    if (got === undefined) return problems.push(`${where}: never ran: ${command.text}`);
    if (got.length === 0) return problems.push(`${where}: expected ${command.expectation.status} but no request was made: ${command.text}`);
    for (const response of got) {
      if (response.status !== command.expectation.status) {
        problems.push(
          `${where}: expected ${command.expectation.status}, got ${response.status} ${response.body.slice(0, 300)}: ${command.text}`,
        );
      } else if (command.expectation.code) {
        let code: unknown;
        try {
          code = (JSON.parse(response.body) as { code?: unknown }).code;
        } catch {
          code = undefined;
        }
        if (code !== command.expectation.code) {
          problems.push(
            `${where}: expected code ${command.expectation.code}, got ${String(code)} in ${response.body.slice(0, 300)}: ${command.text}`,
          );
        }
      }
    }
  });
  return problems;
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = walkthroughBlocks(readme);

describe('the README walkthrough, followed literally against a fresh server', () => {
  let server: ChildProcess | undefined;
  let port: number;
  let dataDir: string;
  let workDir: string;
  let email = WALKTHROUGH_EMAIL;
  /** Results of earlier blocks: a later block is not run after an earlier one failed. */
  let failed: string | undefined;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
    port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-walkthrough-data-'));
    workDir = mkdtempSync(join(tmpdir(), 'tessera-walkthrough-'));
    // A fresh start: none of the caller's Tessera settings leak in, except the real services.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
    if (process.env.DATABASE_URL) {
      env.DATABASE_URL = process.env.DATABASE_URL;
      email = `ada-${randomBytes(6).toString('hex')}@example.com`;
    }
    if (process.env.REDIS_URL) {
      env.REDIS_URL = process.env.REDIS_URL;
      for (const name of [
        'THROTTLE_LOGIN_LIMIT',
        'THROTTLE_REFRESH_LIMIT',
        'THROTTLE_LIMIT',
        'THROTTLE_REGISTER_LIMIT',
        'THROTTLE_MAIL_LIMIT',
      ])
        env[name] = '100000';
    }
    server = spawn(process.execPath, ['dist/main.js'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 600; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
      await sleep(100);
    }
    throw new Error('the server did not become ready within 60 s');
  }, 90_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((done) => server!.once('exit', done));
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  test('README.md marks the walkthrough blocks, and they show the whole story', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const all = blocks.map((b) => b.code).join('\n');
    for (const route of [
      '/auth/register',
      '/auth/login',
      '/users/me',
      '/auth/logout',
      '/auth/refresh',
      '/auth/logout-all-devices',
      '/auth/email/verify',
      '/auth/password/forgot',
      '/auth/password/reset',
      '/auth/email/change',
    ]) {
      expect(all).toContain(route);
    }
    expect(all).toMatch(/refresh_reused/);
  });

  test.each(blocks.map((block, index) => [index + 1, block] as const))(
    'walkthrough block %i',
    async (number, block) => {
      if (failed) throw new Error(`not run: ${failed} failed first`);
      const state = mkdtempSync(join(tmpdir(), 'tessera-walkthrough-state-'));
      try {
        const { status, output } = await run(instrument(block, port, email), workDir, {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          WALKTHROUGH_STATE: state,
          // The server's DATA_DIR, where the development outbox is (scripts/outbox.mjs reads it).
          DATA_DIR: dataDir,
        });
        const problems = checkBlock(block, responsesByCommand(state));
        if (status !== 0) problems.unshift(`README.md:${block.line}: the block exited with status ${status}`);
        if (problems.length > 0) {
          failed = `block ${number}`;
          throw new Error(`${problems.join('\n')}\n--- output of the block ---\n${output}`);
        }
      } finally {
        rmSync(state, { recursive: true, force: true });
      }
    },
    60_000,
  );

  test('the walkthrough writes only where .gitignore covers it', () => {
    const written = readdirSync(workDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(workDir, join(entry.parentPath, entry.name)));
    expect(written.length).toBeGreaterThan(0);
    // As if the walkthrough had been followed in the repository's root: git must ignore every file.
    const notIgnored = written.filter((file) => {
      try {
        execFileSync('git', ['check-ignore', '--no-index', '-q', file], { cwd: root, stdio: 'ignore' });
        return false;
      } catch {
        return true;
      }
    });
    expect(notIgnored).toEqual([]);
  });
});

describe('the convention itself', () => {
  const markdown = (code: string) => `text\n\n${MARKER}\n\`\`\`bash\n${code}\n\`\`\`\n`;
  const block = (code: string) => walkthroughBlocks(markdown(code))[0];

  test('expectation comments', () => {
    expect(parseExpectation('# 401 session_revoked: the session ended')).toEqual({ status: 401, code: 'session_revoked' });
    expect(parseExpectation('# 200: a new cookie')).toEqual({ status: 200 });
    expect(parseExpectation('# 201 {id, email, roles}')).toEqual({ status: 201 });
    expect(parseExpectation('# past the grace window')).toBeUndefined();
    expect(parseExpectation('# 2000 things')).toBeUndefined();
  });

  test('commands, continuations and where the comment starts', () => {
    const { commands } = block('curl -s x \\\n  -d \'{"a":"#1"}\'   # 201\n# prose\nsleep 1  # not an expectation\ncurl -s y');
    expect(commands.map((c) => [c.expectation, c.callsCurl])).toEqual([
      [{ status: 201 }, true],
      [undefined, false],
      [undefined, true],
    ]);
  });

  test('a wrong status, a wrong code, a missing request and a missing expectation are all reported', () => {
    const b = block('curl -s a   # 200\ncurl -s b   # 401 session_revoked\ncurl -s c   # 204\ncurl -s d\necho e   # 200');
    const responses = new Map<number, Response[]>([
      [0, [{ status: 401, body: '{}' }]],
      [1, [{ status: 401, body: '{"code":"invalid_token"}' }]],
      [2, [{ status: 204, body: '' }]],
      [3, [{ status: 200, body: '' }]],
      [4, []],
    ]);
    const problems = checkBlock(b, responses);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/expected 200, got 401/);
    expect(problems[1]).toMatch(/expected code session_revoked, got invalid_token/);
    expect(problems[2]).toMatch(/without an expectation comment/);
    expect(problems[3]).toMatch(/no request was made/);
  });
});

/*
 * The project stands on its own: every link in README.md and docs/*.md resolves inside the
 * repository (a file, and a heading when it names an anchor); the only absolute URLs are the
 * local server's. Illustrative hosts under reserved names (example.com, *.example, *.test,
 * *.invalid) may appear in examples; no other http(s) URL may appear at all, in prose or code.
 */
describe('README.md and docs/ link only inside the repository', () => {
  const files = [
    'README.md',
    ...(existsSync(join(root, 'docs'))
      ? readdirSync(join(root, 'docs'))
          .filter((f) => f.endsWith('.md'))
          .map((f) => `docs/${f}`)
      : []),
  ];
  const LOCAL = /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/;
  const ILLUSTRATIVE = /^https?:\/\/([^/@\s]*@)?([a-z0-9-]+\.)*(example\.(com|org|net)|example|test|invalid|localhost)(:\d+)?(\/|$)/i;

  /** The text outside fenced code and inline code spans. */
  const prose = (markdown: string) => markdown.replace(/^```[\s\S]*?^```\s*$/gm, '').replace(/`[^`\n]*`/g, '');

  /** GitHub's heading anchors (lower-cased, punctuation dropped, spaces to hyphens, repeats numbered) and `<a id>` anchors. */
  function anchors(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const result = new Set<string>();
    for (const match of markdown.replace(/^```[\s\S]*?^```\s*$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
      const slug = match[1]
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      result.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const match of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) result.add(match[1]);
    return result;
  }

  test.each(files)('%s', (file) => {
    const markdown = readFileSync(join(root, file), 'utf8');
    const problems: string[] = [];
    const targets = [
      ...[...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...prose(markdown).matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
      ...[...prose(markdown).matchAll(/<(https?:[^>\s]+)>/g)].map((m) => m[1]),
      ...[...prose(markdown).matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        if (!LOCAL.test(target)) problems.push(`${target}: leaves the repository`);
        continue;
      }
      const [path, anchor] = target.split('#');
      const absolute = path === '' ? join(root, file) : resolve(dirname(join(root, file)), decodeURIComponent(path));
      if (relative(root, absolute).startsWith('..')) {
        problems.push(`${target}: points outside the repository`);
        continue;
      }
      if (!existsSync(absolute)) {
        problems.push(`${target}: no such file`);
        continue;
      }
      if (anchor && absolute.endsWith('.md') && !anchors(readFileSync(absolute, 'utf8')).has(anchor)) {
        problems.push(`${target}: no heading #${anchor} in ${relative(root, absolute)}`);
      }
    }
    for (const match of markdown.matchAll(/https?:\/\/[^\s)`'">\]]+/g)) {
      const url = match[0].replace(/[.,:;]+$/, '');
      if (!LOCAL.test(url) && !ILLUSTRATIVE.test(url)) problems.push(`${url}: a URL outside the repository`);
    }
    if (/\.\.\/shared\b/.test(markdown)) problems.push('mentions ../shared, which is not part of the repository');
    expect(problems).toEqual([]);
  });

  test('the documentation set is there', () => {
    for (const file of ['docs/api.md', 'docs/design.md', 'docs/performance.md']) expect(files).toContain(file);
  });
});
