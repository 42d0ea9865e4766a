// The live page (GET /ui and its script and style under /ui/): plain files of src/http/ui, read
// once at start and served from memory. They hold no data: the page fetches its numbers from
// GET /v1/ui/summary and the stock from the live feed, each with the reader's token when auth is
// on, so the page itself is public. `npm run build` copies the folder beside the compiled code.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Exchange } from './request.js';

export interface UiAsset {
  readonly body: Buffer;
  readonly contentType: string;
  /** Strong validator of the body: a page reloaded unchanged costs a 304. */
  readonly etag: string;
  readonly headers: readonly (readonly [string, string])[];
}

export interface UiAssets {
  readonly page: UiAsset;
  /** By file name under /ui/. */
  readonly files: ReadonlyMap<string, UiAsset>;
}

// Only this origin's own script and style; data only from this origin (the feed too: CSP 3's
// 'self' matches ws: and wss: of the same host).
const pagePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const common: readonly (readonly [string, string])[] = [
  // Revalidated on every load (cheap with the etag), so a new version shows at once.
  ['cache-control', 'no-cache'],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
];

function asset(body: Buffer, contentType: string, policy?: string): UiAsset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const headers = policy === undefined ? common : [...common, ['content-security-policy', policy]];
  return { body, contentType, etag, headers: headers as UiAsset['headers'] };
}

/**
 * Reads the page's files (src/http/ui under tsx, dist/src/http/ui compiled). The page says
 * whether the ledger wants a token, so without one it asks for it instead of calling for data.
 */
export function loadUiAssets(authRequired: boolean): UiAssets {
  const folder = new URL('./ui/', import.meta.url);
  const read = (name: string): Buffer => {
    try {
      return readFileSync(new URL(name, folder));
    } catch (error) {
      const where = decodeURIComponent(folder.pathname);
      throw new Error(`the live page's ${name} is missing from ${where} (npm run build)`, {
        cause: error,
      });
    }
  };
  const marker = '<meta name="ledger-auth" content="none" />';
  const template = read('index.html').toString('utf8');
  if (!template.includes(marker)) throw new Error(`index.html of the live page lacks ${marker}`);
  const html = authRequired
    ? template.replace(marker, '<meta name="ledger-auth" content="bearer" />')
    : template;
  return {
    page: asset(Buffer.from(html, 'utf8'), 'text/html; charset=utf-8', pagePolicy),
    files: new Map([
      ['app.js', asset(read('app.js'), 'text/javascript; charset=utf-8')],
      ['app.css', asset(read('app.css'), 'text/css; charset=utf-8')],
    ]),
  };
}

/** 200 with the file, or 304 when the browser's copy (`if-none-match`) is this one. */
export function serveAsset(exchange: Exchange, file: UiAsset, ifNoneMatch: string): void {
  if (exchange.aborted || exchange.answered) return;
  exchange.answered = true;
  const fresh = ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag);
  exchange.res.cork(() => {
    const res = exchange.res;
    res.writeStatus(fresh ? '304 Not Modified' : '200 OK');
    res.writeHeader('content-type', file.contentType);
    res.writeHeader('etag', file.etag);
    res.writeHeader('x-trace-id', exchange.traceId);
    for (const [name, value] of file.headers) res.writeHeader(name, value);
    if (fresh) res.endWithoutBody();
    else res.end(file.body);
  });
  exchange.observer?.(exchange, fresh ? 304 : 200);
}
