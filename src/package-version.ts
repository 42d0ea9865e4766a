// The ledger's version, as package.json says it: in the OpenAPI document and the CLI's output.
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  // Compiled, this file is dist/src/package-version.js; run through tsx, src/package-version.ts.
  const up = import.meta.url.endsWith('.ts') ? '../package.json' : '../../package.json';
  return (JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version: string })
    .version;
}
