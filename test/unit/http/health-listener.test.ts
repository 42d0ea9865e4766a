// Proves the health listener's answers that a healthy ledger cannot show (not ready, a failing
// readiness check or metrics render) and its bounds, by running it in-process on port 0 with
// substitute readiness and metrics functions and talking to it over node:http.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthListener, type HealthListenerOptions } from '../../../src/http/health-listener.js';
import { createLogger } from '../../../src/observability/logger.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false });
    outgoing.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('HealthListener', () => {
  let listener: HealthListener | undefined;

  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  async function start(overrides: Partial<HealthListenerOptions>): Promise<number> {
    listener = new HealthListener({
      readiness: async () => ({ ready: true, details: { shards: 1, shard_0: true } }),
      renderMetrics: async () => 'up 1\n',
      log: createLogger('silent'),
      ...overrides,
    });
    return listener.listen('127.0.0.1', 0);
  }

  it('answers 503 unavailable with the details and retry-after while not ready', async () => {
    const port = await start({
      readiness: async () => ({
        ready: false,
        details: { shards: 2, shard_0: true, shard_1: false },
      }),
    });
    const answer = await get(port, '/health/ready');
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code: 'unavailable',
        message: 'The ledger is not ready.',
        details: { shards: 2, shard_0: true, shard_1: false },
      },
    });
  });

  it('answers 503 when the readiness check or the metrics render fails', async () => {
    const port = await start({
      readiness: () => Promise.reject(new Error('no shard')),
      renderMetrics: () => Promise.reject(new Error('no registry')),
    });
    const ready = await get(port, '/health/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).error.message).toBe('readiness check failed: Error: no shard');
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(503);
    expect(JSON.parse(metrics.body).error.message).toBe('metrics failed: Error: no registry');
  });

  it('echoes a sane x-trace-id and makes one up otherwise', async () => {
    const port = await start({});
    expect((await get(port, '/health/live', { 'x-trace-id': 'abc-1' })).headers['x-trace-id']).toBe(
      'abc-1',
    );
    const made = (await get(port, '/health/live', { 'x-trace-id': 'has space' })).headers;
    expect(made['x-trace-id']).toMatch(/^[0-9a-f]{20}$/);
  });

  it('ignores the query string, as uWS routing does', async () => {
    const port = await start({});
    expect((await get(port, '/metrics?name=up')).body).toBe('up 1\n');
  });

  it('closes idle keep-alive connections when closed', async () => {
    const port = await start({});
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('GET /health/live HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n');
    await answered;
    await listener?.close();
    listener = undefined;
    await closed;
  });
});
