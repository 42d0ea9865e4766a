// A stand-in for an OpenTelemetry collector (`--trace`): an OTLP/HTTP receiver on 127.0.0.1 that
// reads every export and throws it away, counting what arrived, so a run with tracing on can show
// it really exported (and cost what it costs) without a collector installed.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  /** What the ledger gets as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  /** Export requests received so far, and their bytes. */
  received(): { readonly exports: number; readonly bytes: number };
  close(): Promise<void>;
}

export function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      exports += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        received: () => ({ exports, bytes }),
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
