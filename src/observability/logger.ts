// Structured JSON logs (pino) on stdout; the trace id goes on every request-scoped line.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'inventory-ledger' } });
}
