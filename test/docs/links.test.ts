// Every link in the repository's markdown stays inside the repository and lands: the file exists,
// and an anchor names a heading of that file as GitHub slugs it. Read with a markdown lexer, so
// links inside code blocks and code spans are not links.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { Lexer, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The markdown files git tracks (results written by benches are not tracked). */
function markdownFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '*.md'], { cwd: root, encoding: 'utf8' });
  return listed.split('\n').filter((path) => path !== '');
}

/** Every token, nested ones included (a link in a list item in a table cell). */
function* walk(tokens: readonly Token[]): Generator<Token> {
  for (const token of tokens) {
    yield token;
    const nested = token as { tokens?: Token[]; items?: Token[] };
    if (nested.tokens !== undefined) yield* walk(nested.tokens);
    if (nested.items !== undefined) yield* walk(nested.items);
    if (token.type === 'table') {
      const table = token as Tokens.Table;
      for (const cell of table.header) yield* walk(cell.tokens);
      for (const row of table.rows) for (const cell of row) yield* walk(cell.tokens);
    }
  }
}

/** A heading's text as GitHub slugs it: code spans' text kept, markup dropped. */
function plainText(tokens: readonly Token[]): string {
  let text = '';
  for (const token of tokens) {
    const nested = (token as { tokens?: Token[] }).tokens;
    if (nested !== undefined && nested.length > 0) text += plainText(nested);
    else if (token.type === 'codespan') text += (token as Tokens.Codespan).text;
    else if (token.type === 'text' || token.type === 'escape') text += (token as Tokens.Text).text;
  }
  return text;
}

interface Markdown {
  readonly anchors: ReadonlySet<string>;
  readonly links: readonly string[];
}

const parsed = new Map<string, Markdown>();

function markdown(path: string): Markdown {
  const known = parsed.get(path);
  if (known !== undefined) return known;
  const tokens = new Lexer().lex(readFileSync(join(root, path), 'utf8'));
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const links: string[] = [];
  for (const token of walk(tokens)) {
    if (token.type === 'heading') anchors.add(slugger.slug(plainText(token.tokens ?? [])));
    else if (token.type === 'link' || token.type === 'image') links.push(token.href);
  }
  const result = { anchors, links };
  parsed.set(path, result);
  return result;
}

/** The reader's own services on this machine (the ledger, its dashboards): not documentation. */
const ownMachine = /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/;

/** What is wrong with `href` in `from`, or undefined when it lands. */
function problem(from: string, href: string): string | undefined {
  if (ownMachine.test(href)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) {
    return 'leaves the repository';
  }
  const [pathPart = '', anchor] = href.split('#', 2);
  const target = pathPart === '' ? from : relative(root, join(root, dirname(from), pathPart));
  if (target.startsWith('..')) return 'points outside the repository';
  const absolute = join(root, target);
  if (!existsSync(absolute)) return `${target} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(absolute).isDirectory() || !target.endsWith('.md')) {
    return `an anchor into ${target}, which is not a markdown file`;
  }
  const wanted = decodeURIComponent(anchor);
  return markdown(target).anchors.has(wanted) ? undefined : `no heading #${wanted} in ${target}`;
}

describe('the repository markdown links', () => {
  const files = markdownFiles();

  it('finds the markdown files and their links', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('bench/README.md');
    expect(markdown('README.md').links.length).toBeGreaterThan(10);
  });

  it.each(files)('every link in %s lands inside the repository', (file) => {
    const broken = markdown(file)
      .links.map((href) => ({ href, problem: problem(file, href) }))
      .filter((link) => link.problem !== undefined);
    expect(broken).toEqual([]);
  });
});

describe('the link check itself', () => {
  it('slugs headings as GitHub does, code spans and punctuation included', () => {
    const anchors = markdown('bench/README.md').anchors;
    expect(anchors).toContain('--client-the-bench-generators-own-http-client-december-5');
    expect(anchors).toContain('npm-run-bench-the-flash-sale-bench');
  });

  it('refuses a missing file, a missing heading, and a link out of the repository', () => {
    expect(problem('README.md', 'docs/nothing-here.md')).toBe(
      'docs/nothing-here.md does not exist',
    );
    expect(problem('README.md', 'bench/README.md#no-such-heading')).toBe(
      'no heading #no-such-heading in bench/README.md',
    );
    expect(problem('README.md', 'https://example.com/')).toBe('leaves the repository');
    expect(problem('README.md', 'https://127.0.0.1.example.com/')).toBe('leaves the repository');
    expect(problem('deploy/README.md', 'http://127.0.0.1:9090')).toBeUndefined();
    expect(problem('docs/api.md', '../../shared/API.md')).toBe('points outside the repository');
    expect(problem('docs/api.md', '../README.md#run-it')).toBeUndefined();
    expect(problem('README.md', '#performance')).toBeUndefined();
  });
});
