// POST /v1/stock/import: the lines of an NDJSON file applied one by one, each exactly as the
// endpoint its `op` names would apply it alone (the same validation, command and answer). A
// window of lines is in flight at once; lines are sent in file order, and a shard applies what
// it gets in arrival order, so the lines of one stock key apply in file order. Lines are parsed
// only as the window moves: the file is never turned into one array of objects.
import { errorStatus, type ErrorObject } from '../errors.js';
import {
  importLinesInFlightMax,
  importOverloadedWaitMsMax,
  importRetryDelayMsMax,
  importRetryDelayMsMin,
} from '../limits.js';
import type { RoutableCommand } from '../router/index.js';
import type { ShardOutcome } from '../shards/index.js';
import { NdjsonLines, type NdjsonLine } from './ndjson-lines.js';
import { errorOf, renderOutcome } from './reply-render.js';
import { parseJsonObject } from './request.js';
import type { RouteName } from './routes.js';

/**
 * What each `op` of a line stands for: the route whose validation, command and answer the line
 * gets. A new op is one entry here (its route must build a command for one stock key).
 */
export const importOps: ReadonlyMap<string, RouteName> = new Map([
  ['adjust', 'adjust'],
  ['set', 'setStock'],
]);

/** A line's command, as its route builds it from the line's object, or the route's refusal. */
export type LineCommand =
  { readonly ok: true; readonly command: RoutableCommand } | ({ readonly ok: false } & ErrorObject);

/** How a line ended: for metrics and the audit log. */
export interface LineEnd {
  readonly status: number;
  /** 'ok' or the error code. */
  readonly result: string;
  /** Absent for a line that never became a command (not JSON, unknown op, invalid fields). */
  readonly command?: RoutableCommand;
  readonly outcome?: ShardOutcome;
}

/** What an import needs of the server: its routes' commands, dispatch and answers. */
export interface ImportHost {
  command(route: RouteName, body: Record<string, unknown>): LineCommand;
  /** Sends a command as its route would; `done` may be called before this returns. */
  dispatch(command: RoutableCommand, done: (outcome: ShardOutcome) => void): void;
  settled(end: LineEnd): void;
  /** The whole answer's body, once every line has its result. */
  finished(body: string): void;
}

export interface ImportTimers {
  now(): number;
  after(delayMs: number, run: () => void): () => void;
}

const realTimers: ImportTimers = {
  now: () => performance.now(),
  after(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

/** A line ready to send: its place among the results, its number in the file, its command. */
interface Pending {
  readonly index: number;
  readonly line: number;
  readonly command: RoutableCommand;
}

const opList = [...importOps.keys()].join(', ');

export class StockImport {
  private readonly lines: NdjsonLines;
  /** Each line's result, rendered, in line order. */
  private readonly results: string[] = [];
  private applied = 0;
  private failed = 0;
  private inFlight = 0;
  private nextIndex = 0;
  private exhausted = false;
  private stopped = false;
  private done = false;
  /** A line its shard refused at dispatch (at its in-flight bound): sent again before any other. */
  private held: Pending | undefined;
  private heldSinceMs = 0;
  /** Time lines spent held, over the whole import (bounded by importOverloadedWaitMsMax). */
  private waitedMs = 0;
  private retryDelayMs = importRetryDelayMsMin;
  private cancelTimer: (() => void) | undefined;

  constructor(
    bytes: Buffer,
    private readonly host: ImportHost,
    private readonly windowMax = importLinesInFlightMax,
    private readonly timers: ImportTimers = realTimers,
  ) {
    this.lines = new NdjsonLines(bytes);
  }

  start(): void {
    this.pump();
  }

  /** The client went away: no more lines are sent (those already sent still apply). */
  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Sends lines in file order while the window has room; a held line goes first. */
  private pump(): void {
    while (!this.stopped && this.inFlight < this.windowMax) {
      const pending = this.held ?? this.nextPending();
      if (pending === undefined) break;
      if (!this.send(pending)) return;
    }
    this.finishIfDone();
  }

  /** The next line that becomes a command; lines that cannot are answered on the way. */
  private nextPending(): Pending | undefined {
    for (;;) {
      const line = this.lines.next();
      if (line === undefined) {
        this.exhausted = true;
        return undefined;
      }
      const index = this.nextIndex;
      this.nextIndex += 1;
      const built = this.commandOf(line);
      if (built.ok) return { index, line: line.line, command: built.command };
      const error: ErrorObject = { code: built.code, message: built.message };
      if (built.details !== undefined) error.details = built.details;
      this.refused(index, line.line, error);
    }
  }

  private commandOf(line: NdjsonLine): LineCommand {
    const parsed = parseJsonObject(line.bytes, `line ${line.line}`);
    if (!parsed.ok) return { ok: false, code: parsed.code, message: parsed.message };
    const op = parsed.value.op;
    const route = typeof op === 'string' ? importOps.get(op) : undefined;
    if (route === undefined) {
      const message = `op must be one of: ${opList}`;
      return { ok: false, code: 'validation_failed', message, details: { field: 'op' } };
    }
    return this.host.command(route, parsed.value);
  }

  /**
   * Dispatches a line. False when its shard refused it at once for being at its in-flight
   * bound: nothing was done, so it is held and sent again after a wait, and no later line is
   * sent meanwhile (a later line of the same key must not overtake it).
   */
  private send(pending: Pending): boolean {
    const immediate: { outcome?: ShardOutcome } = {};
    let sending = true;
    this.host.dispatch(pending.command, (outcome) => {
      if (sending) {
        immediate.outcome = outcome;
        return;
      }
      this.inFlight -= 1;
      this.settle(pending, outcome);
      this.pump();
    });
    sending = false;
    const outcome = immediate.outcome;
    if (outcome === undefined) {
      this.unhold(pending);
      this.inFlight += 1;
      return true;
    }
    if (!outcome.ok && outcome.code === 'overloaded' && this.mayWait(pending)) {
      this.hold(pending);
      return false;
    }
    this.unhold(pending);
    this.settle(pending, outcome);
    return true;
  }

  private mayWait(pending: Pending): boolean {
    const holding = this.held === pending ? this.timers.now() - this.heldSinceMs : 0;
    return this.waitedMs + holding < importOverloadedWaitMsMax;
  }

  /** Waits for room: a line of ours coming back, or the back-off timer, whichever is first. */
  private hold(pending: Pending): void {
    if (this.held !== pending) {
      this.held = pending;
      this.heldSinceMs = this.timers.now();
    }
    if (this.cancelTimer !== undefined) return;
    const delayMs = this.retryDelayMs;
    this.retryDelayMs = Math.min(2 * delayMs, importRetryDelayMsMax);
    this.cancelTimer = this.timers.after(delayMs, () => {
      this.cancelTimer = undefined;
      this.pump();
    });
  }

  private unhold(pending: Pending): void {
    if (this.held !== pending) return;
    this.waitedMs += this.timers.now() - this.heldSinceMs;
    this.held = undefined;
    this.retryDelayMs = importRetryDelayMsMin;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private settle(pending: Pending, outcome: ShardOutcome): void {
    const end = { command: pending.command, outcome };
    if (!outcome.ok) {
      this.refused(pending.index, pending.line, errorOf(outcome), end);
      return;
    }
    const rendered = renderOutcome(outcome);
    const replayed = rendered.replayed ? ',"replayed":true' : '';
    // The stock view is rendered once, as the route renders it, and placed as it is.
    this.results[pending.index] =
      `{"line":${pending.line},"status":200${replayed},"stock":${rendered.body}}`;
    this.applied += 1;
    this.host.settled({ status: 200, result: 'ok', ...end });
  }

  private refused(
    index: number,
    line: number,
    error: ErrorObject,
    end: Pick<LineEnd, 'command' | 'outcome'> = {},
  ): void {
    const status = errorStatus(error.code);
    this.results[index] = JSON.stringify({ line, status, error });
    this.failed += 1;
    this.host.settled({ status, result: error.code, ...end });
  }

  private finishIfDone(): void {
    if (this.done || !this.exhausted || this.held !== undefined || this.inFlight > 0) return;
    this.done = true;
    const counts = `{"applied":${this.applied},"failed":${this.failed}`;
    this.host.finished(`${counts},"results":[${this.results.join(',')}]}`);
  }
}
