// The cart coordinator, on the HTTP thread: it drives a cart's parts across partitions.
// - Every line in the cart's home partition (the hash of its idempotency key): one command, one
//   actor turn, one atomic group of records (holds and decision).
// - Otherwise two-phase with presumed abort: claim the key at the home (memory only), prepare
//   each partition's lines (durable holds, in doubt), then journal the decision at the home
//   and only then answer 200; on any refusal the prepared holds are released. A participant
//   whose holds stay in doubt (a coordinator that died, a lost message) is resolved by
//   `resolveInDoubt`: the home answers with its decision, or journals an abort if it has none.
// - Cart-wide reads and changes: the home names the holds, each partition acts on its own.
import {
  homePartitionOf,
  merged,
  type CartHold,
  type CartLine,
  type CartTerms,
  type CartView,
  type Command,
  type ReservationStatus,
} from '../actors/index.js';
import type { Clock } from '../clock.js';
import { cartHoldsMax as holdsMax } from '../limits.js';
import type { ReplyCallback, ShardOutcome } from '../shards/index.js';
import { partitionOf } from './partition-hash.js';
import { mintReservationId } from './reservation-id.js';

/** What the coordinator needs of the router: the Router itself, or the simulator's. */
export interface CartTransport {
  readonly partitions: number;
  partitionOfProduct(productId: string): number;
  dispatchTo(partition: number, command: Command, callback: ReplyCallback): unknown;
  /**
   * The refusal (503 overloaded) for a cart's lines on this partition if its shard sheds now;
   * undefined: they may be sent. Without it nothing is shed (the simulator's transport).
   */
  shedding?(partition: number): ShardOutcome | undefined;
}

/** A cart as the ingress validated it. */
export interface CartRequest {
  readonly idempotencyKey: string;
  /** warehouseId '' asks the ledger to allocate the line. */
  readonly lines: readonly Omit<CartLine, 'index'>[];
  readonly ttlSeconds: number;
  readonly buyerId: string;
  readonly reference: string;
  readonly requesterId: string;
  readonly traceId: string;
}

export type CartCallback = (outcome: ShardOutcome) => void;

export interface CartCoordinatorOptions {
  readonly transport: CartTransport;
  readonly clock: Clock;
  /** Mints cart ids (embedding the home partition); the simulator's are deterministic. */
  readonly mintCartId?: (homePartition: number) => string;
  /** Mints the id of a cart confirm attempt; the simulator's are deterministic. */
  readonly mintAttempt?: (homePartition: number) => string;
  /** For metrics: how each cart placement ended ('ok' or the code), and allocation splits. */
  readonly placed?: (result: string, crossPartition: boolean) => void;
}

/** The canonical form of a cart request: a replay must match it exactly. */
export function cartFingerprint(request: CartRequest): string {
  return JSON.stringify([
    request.lines.map((line) => [line.productId, line.warehouseId, line.quantity]),
    request.ttlSeconds,
    request.buyerId,
    request.reference,
  ]);
}

/** A cart id: a UUID whose first 16 bits are the home partition, like reservation ids. */
export function mintCartId(homePartition: number): string {
  return mintReservationId(homePartition);
}

type Part = { readonly partition: number; readonly lines: CartLine[] };

export class CartCoordinator {
  private readonly transport: CartTransport;
  private readonly mint: (homePartition: number) => string;
  private readonly mintAttempt: (homePartition: number) => string;

  constructor(private readonly options: CartCoordinatorOptions) {
    this.transport = options.transport;
    this.mint = options.mintCartId ?? mintCartId;
    this.mintAttempt = options.mintAttempt ?? mintCartId;
  }

  /** The home partition of a cart key: where its decision and idempotency live. */
  homeOf(idempotencyKey: string): number {
    return partitionOf(`cart\u0000${idempotencyKey}`, this.transport.partitions);
  }

  place(request: CartRequest, callback: CartCallback): void {
    const home = this.homeOf(request.idempotencyKey);
    const terms: CartTerms = {
      cartId: this.mint(home),
      idempotencyKey: request.idempotencyKey,
      fingerprint: cartFingerprint(request),
      ttlSeconds: request.ttlSeconds,
      buyerId: request.buyerId,
      reference: request.reference,
      requesterId: request.requesterId,
      traceId: request.traceId,
    };
    const parts = this.partsOf(request);
    const only = parts.length === 1 ? parts[0] : undefined;
    const whole = only !== undefined && only.partition === home;
    // Shed before anything is sent anywhere: no key claimed, no hold prepared, nothing to undo.
    const shed = this.shed(parts);
    if (shed !== undefined) {
      this.options.placed?.(resultOf(shed), !whole);
      callback(shed);
      return;
    }
    if (whole) {
      const lines = only.lines;
      const command: Command = { kind: 'cart-place', mode: 'whole', terms, lines, holdsMax };
      this.send(home, command, (outcome) => {
        this.options.placed?.(resultOf(outcome), false);
        callback(outcome);
      });
      return;
    }
    this.send(home, { kind: 'cart-begin', terms }, (outcome) => {
      if (!outcome.ok || !('decision' in outcome)) {
        this.options.placed?.(resultOf(outcome), true);
        callback(outcome);
        return;
      }
      this.prepare(terms, parts, (result) => {
        this.options.placed?.(resultOf(result), true);
        callback(result);
      });
    });
  }

  /**
   * A cart is demand, like a reserve: refused at once if a shard holding any of its lines sheds.
   * Not for its home alone: the home's work (the key's claim, the decision) ends a cart already
   * let in, like a confirm, and refusing by the key's hash would refuse carts of products far
   * from the crowd, and their retries (same key, same home) too, for as long as it lasts.
   */
  private shed(parts: readonly Part[]): ShardOutcome | undefined {
    const transport = this.transport;
    if (transport.shedding === undefined) return undefined;
    for (const part of parts) {
      const refusal = transport.shedding(part.partition);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }

  /** The lines by partition (hash v2: a product's keys all live in one), in line order. */
  private partsOf(request: CartRequest): Part[] {
    const parts = new Map<number, Part>();
    request.lines.forEach((line, index) => {
      const partition = this.transport.partitionOfProduct(line.productId);
      let part = parts.get(partition);
      if (part === undefined) {
        part = { partition, lines: [] };
        parts.set(partition, part);
      }
      part.lines.push(merged(line, { index }));
    });
    return [...parts.values()];
  }

  /** Phase one: every part holds its lines, durably, or the cart is abandoned. */
  private prepare(terms: CartTerms, parts: readonly Part[], callback: CartCallback): void {
    const answers: ShardOutcome[] = [];
    let waiting = parts.length;
    parts.forEach((part, index) => {
      const { lines } = part;
      const command: Command = { kind: 'cart-place', mode: 'prepare', terms, lines, holdsMax };
      this.send(part.partition, command, (outcome) => {
        answers[index] = outcome;
        waiting -= 1;
        if (waiting === 0) this.prepared(terms, parts, answers, callback);
      });
    });
  }

  private prepared(
    terms: CartTerms,
    parts: readonly Part[],
    answers: readonly ShardOutcome[],
    callback: CartCallback,
  ): void {
    const holds: CartHold[] = [];
    for (const answer of answers) {
      if (answer.ok && 'cart' in answer) holds.push(...answer.cart.holds);
    }
    const refusal = mergedRefusal(answers);
    if (refusal !== undefined) {
      this.abandon(terms, parts, () => callback(refusal));
      return;
    }
    holds.sort((a, b) => a.line - b.line || a.partition - b.partition);
    // The earliest part's times: a cart-wide cap checked against them holds for every hold.
    let createdAtMs = Number.POSITIVE_INFINITY;
    let expiresAtMs = Number.POSITIVE_INFINITY;
    for (const answer of answers) {
      if (!answer.ok || !('cart' in answer)) continue;
      createdAtMs = Math.min(createdAtMs, answer.cart.createdAtMs);
      expiresAtMs = Math.min(expiresAtMs, answer.cart.expiresAtMs);
    }
    const home = homePartitionOf(terms.cartId);
    const decide: Command = { kind: 'cart-decide', terms, createdAtMs, expiresAtMs, holds };
    this.send(home, decide, (outcome) => {
      if (outcome.ok && 'cart' in outcome) {
        this.settle(terms, parts);
        callback(outcome);
        return;
      }
      // No decision known (the home refused, or its write failed): resolve it, then act on it.
      this.resolve(terms.cartId, terms.traceId, 0, (decision) => {
        if (decision === 'committed') {
          this.settle(terms, parts);
          this.readCart(terms.cartId, terms.traceId, callback);
        } else if (decision === 'aborted') {
          this.abandon(terms, parts, () => callback(unavailableOutcome));
        } else {
          // The home cannot say: the holds stay in doubt and the resolver finishes the cart.
          callback(unavailableOutcome);
        }
      });
    });
  }

  /** Tells the participants their holds are no longer in doubt (not needed for correctness). */
  private settle(terms: CartTerms, parts: readonly Part[]): void {
    const home = homePartitionOf(terms.cartId);
    for (const part of parts) {
      if (part.partition === home) continue;
      this.send(part.partition, cartIdCommand('cart-settle', terms), ignore);
    }
  }

  /** Releases every part's prepared holds and drops the key's claim at the home. */
  private abandon(terms: CartTerms, parts: readonly Part[], done: () => void): void {
    const home = homePartitionOf(terms.cartId);
    const partitions = new Set([home, ...parts.map((part) => part.partition)]);
    let waiting = partitions.size;
    for (const partition of partitions) {
      this.sendUntilAnswered(partition, cartIdCommand('cart-abort', terms), 0, () => {
        waiting -= 1;
        if (waiting === 0) done();
      });
    }
  }

  /**
   * Asks the home for a cart's decision (it journals an abort if it has none), retrying while
   * the home cannot answer; `attempt` counts the retries, bounded by the retry schedule.
   */
  resolve(
    cartId: string,
    traceId: string,
    attempt: number,
    done: (decision: 'committed' | 'aborted' | 'unknown') => void,
  ): void {
    const command: Command = { kind: 'cart-resolve', cartId, traceId };
    this.sendUntilAnswered(homePartitionOf(cartId), command, attempt, (outcome) => {
      const decided = outcome.ok && 'decision' in outcome ? outcome.decision : undefined;
      // Only an answer decides; no answer (the home down for long) leaves the cart in doubt.
      done(decided === 'committed' || decided === 'aborted' ? decided : 'unknown');
    });
  }

  /**
   * Resolves a participant's holds in doubt: asks the home, then settles or aborts them.
   * Called by the resolver (main.ts) for carts in doubt for longer than a coordinator lives.
   */
  resolveInDoubt(participant: number, cartId: string, done: () => void, attempt = ''): void {
    if (attempt !== '') {
      // Holds pinned by a confirm attempt: confirmed if the home says so, else let go.
      this.resolveConfirm(cartId, attempt, 0, (decision) => {
        if (decision === 'unknown') {
          done();
          return;
        }
        const kind = decision === 'committed' ? 'confirm-pinned' : 'unpin';
        const command: Command = {
          kind: 'cart-holds',
          cartId,
          reservationIds: [],
          action: { kind, attempt },
          traceId: '',
        };
        this.sendUntilAnswered(participant, command, 0, () => done());
      });
      return;
    }
    this.resolve(cartId, '', 0, (decision) => {
      if (decision === 'unknown') {
        done();
        return;
      }
      const kind = decision === 'committed' ? 'cart-settle' : 'cart-abort';
      this.sendUntilAnswered(participant, { kind, cartId, traceId: '' }, 0, () => done());
    });
  }

  /**
   * Sends until the partition answers with something other than 503 (a shard recovering, a
   * bound hit): these messages end a protocol and must arrive. Backs off up to a second;
   * gives up after `retriesMax` (the resolver then finds the cart in doubt and finishes it).
   */
  private sendUntilAnswered(
    partition: number,
    command: Command,
    attempt: number,
    done: (outcome: ShardOutcome) => void,
  ): void {
    this.send(partition, command, (outcome) => {
      const transient =
        !outcome.ok && (outcome.code === 'unavailable' || outcome.code === 'overloaded');
      if (!transient || attempt >= retriesMax) {
        done(outcome);
        return;
      }
      const delayMs = Math.min(1000, 10 * 2 ** attempt);
      void this.options.clock
        .sleep(delayMs)
        .then(() => this.sendUntilAnswered(partition, command, attempt + 1, done));
    });
  }

  /** The cart as its home decided it, every hold with its current state. */
  readCart(cartId: string, traceId: string, callback: CartCallback): void {
    this.withCart(cartId, traceId, callback, (cart) => {
      this.eachPart(cart, traceId, { kind: 'read' }, callback, (holds) => {
        callback({ ok: true, cart: withHolds(cart, holds), replayed: false });
      });
    });
  }

  releaseCart(cartId: string, traceId: string, callback: CartCallback, subject = ''): void {
    this.withCart(cartId, traceId, callback, (cart) => {
      const parts = { traceId, subject };
      this.eachPart(cart, parts, { kind: 'release' }, callback, (holds) => {
        callback({ ok: true, cart: withHolds(cart, holds), replayed: false });
      });
    });
  }

  extendCart(
    cartId: string,
    ttlSeconds: number,
    lifetimeMaxMs: number,
    traceId: string,
    callback: CartCallback,
  ): void {
    this.withCart(cartId, traceId, callback, (cart) => {
      // The cap is the same for every hold (they share created_at): checked once, up front.
      if (this.options.clock.now() + ttlSeconds * 1000 > cart.createdAtMs + lifetimeMaxMs) {
        callback(capExceeded(lifetimeMaxMs));
        return;
      }
      // One fan-out: each partition extends what is PENDING (a due hold expires instead); a
      // cart left with nothing PENDING answers as not pending, with its status.
      const action = { kind: 'extend', ttlSeconds, lifetimeMaxMs } as const;
      this.eachPart(cart, traceId, action, callback, (holds) => {
        const status = cartStatus(holds);
        if (status === 'PENDING')
          callback({ ok: true, cart: withHolds(cart, holds), replayed: false });
        else callback(notPending(status));
      });
    });
  }

  /**
   * All or nothing, even across a crash. Holds in one partition: one command, one turn. Across
   * partitions, a two-phase commit per attempt (presumed abort): every partition pins its
   * PENDING holds for the attempt (journaled), the home journals the attempt as confirmed, then
   * every partition confirms what the attempt pinned. A refusal unpins what was pinned. A cart
   * whose home already has a confirmed attempt is rolled forward. `quantities` by hold id.
   */
  confirmCart(
    cartId: string,
    quantities: ReadonlyMap<string, number>,
    traceId: string,
    callback: CartCallback,
    subject = '',
  ): void {
    const parts = { traceId, subject };
    this.withCart(cartId, traceId, callback, (cart) => {
      const named = checkNamed(cart, quantities);
      if (named !== undefined) {
        callback(named);
        return;
      }
      const confirmed = (holds: CartView['holds'], replayed: boolean) =>
        this.confirmedAnswer(cart, holds, callback, replayed);
      if (new Set(cart.holds.map((hold) => hold.partition)).size === 1) {
        const action = { kind: 'confirm', quantities: Object.fromEntries(quantities) } as const;
        this.eachPart(cart, parts, action, callback, confirmed);
        return;
      }
      const decided = cart.confirmAttempt ?? '';
      if (decided !== '') {
        this.eachPart(
          cart,
          parts,
          { kind: 'confirm-pinned', attempt: decided },
          callback,
          confirmed,
        );
        return;
      }
      const attempt = this.mintAttempt(homePartitionOf(cartId));
      const unpin = { kind: 'unpin', attempt } as const;
      const letGo = (outcome: ShardOutcome) =>
        this.eachPart(cart, parts, unpin, ignore, () => callback(outcome));
      const pin = { kind: 'pin', attempt, quantities: Object.fromEntries(quantities) } as const;
      this.eachPart(cart, parts, pin, letGo, (pinned) => {
        // Nothing was PENDING: every hold is CONFIRMED already (a confirm before this one).
        if (!pinned.some((hold) => hold.status === 'PENDING')) {
          callback({ ok: true, cart: withHolds(cart, pinned), replayed: true });
          return;
        }
        const decide: Command = { kind: 'cart-confirm-decide', cartId, attempt, traceId };
        this.send(homePartitionOf(cartId), decide, (outcome) => {
          const answered = outcome.ok && 'decision' in outcome ? outcome.decision : undefined;
          const then = (decision: 'committed' | 'aborted' | 'unknown') => {
            if (decision === 'committed') {
              const finish = { kind: 'confirm-pinned', attempt } as const;
              this.eachPart(cart, parts, finish, callback, confirmed);
            } else if (decision === 'aborted') letGo(confirmAbandoned);
            // The home cannot say: the pins stay, and the resolver finishes the attempt.
            else callback(confirmAbandoned);
          };
          if (answered === 'committed' || answered === 'aborted') then(answered);
          else this.resolveConfirm(cartId, attempt, 0, then);
        });
      });
    });
  }

  /** 200 only when every hold is CONFIRMED; anything else names the first hold that is not. */
  private confirmedAnswer(
    cart: CartView,
    holds: CartView['holds'],
    callback: CartCallback,
    replayed = false,
  ): void {
    const failed = holds.find((hold) => hold.status !== 'CONFIRMED');
    if (failed !== undefined) callback(heldState(failed));
    else callback({ ok: true, cart: withHolds(cart, holds), replayed });
  }

  /**
   * Asks the home for a confirm attempt's decision (it journals an abort if it has none),
   * retrying while the home cannot answer.
   */
  private resolveConfirm(
    cartId: string,
    attempt: string,
    retry: number,
    done: (decision: 'committed' | 'aborted' | 'unknown') => void,
  ): void {
    const command: Command = { kind: 'cart-confirm-resolve', cartId, attempt, traceId: '' };
    this.sendUntilAnswered(homePartitionOf(cartId), command, retry, (outcome) => {
      const decided = outcome.ok && 'decision' in outcome ? outcome.decision : undefined;
      done(decided === 'committed' || decided === 'aborted' ? decided : 'unknown');
    });
  }

  private withCart(
    cartId: string,
    traceId: string,
    callback: CartCallback,
    then: (cart: CartView) => void,
  ): void {
    const home = homePartitionOf(cartId);
    if (!(home >= 0 && home < this.transport.partitions)) {
      callback({ ok: false, code: 'not_found', message: 'No such cart.' });
      return;
    }
    this.send(home, { kind: 'read-cart', cartId, traceId }, (outcome) => {
      if (outcome.ok && 'cart' in outcome) then(outcome.cart);
      else callback(outcome);
    });
  }

  /**
   * Runs one action on every partition's holds of the cart; `then` gets every hold's state
   * (in the cart's order), or `refused` the first refusal (in hold order).
   */
  private eachPart(
    cart: CartView,
    request: string | { readonly traceId: string; readonly subject: string },
    action: Extract<Command, { kind: 'cart-holds' }>['action'],
    refused: CartCallback,
    then: (holds: CartView['holds'], replayed: boolean) => void,
  ): void {
    const byPartition = new Map<number, string[]>();
    for (const hold of cart.holds) {
      const ids = byPartition.get(hold.partition) ?? [];
      ids.push(hold.reservationId);
      byPartition.set(hold.partition, ids);
    }
    const answers = new Map<number, ShardOutcome>();
    let waiting = byPartition.size;
    // A trace id alone, or with the caller's subject (a confirm or release, for the history).
    const { traceId, subject } =
      typeof request === 'string' ? { traceId: request, subject: '' } : request;
    for (const [partition, reservationIds] of byPartition) {
      const command: Command = {
        kind: 'cart-holds',
        cartId: cart.cartId,
        reservationIds,
        action,
        traceId,
        ...(subject === '' ? {} : { subject }),
      };
      this.send(partition, command, (outcome) => {
        answers.set(partition, outcome);
        waiting -= 1;
        if (waiting > 0) return;
        const states = new Map<string, CartView['holds'][number]>();
        for (const hold of cart.holds) {
          const answer = answers.get(hold.partition);
          if (answer === undefined || !answer.ok) {
            refused(answer ?? unavailableOutcome);
            return;
          }
          if (!('cart' in answer)) continue;
          for (const state of answer.cart.holds) states.set(state.reservationId, state);
        }
        // A hold its partition no longer retains: the cart is too old to answer for.
        if (cart.holds.some((hold) => !states.has(hold.reservationId))) {
          refused({ ok: false, code: 'not_found', message: 'This cart is no longer retained.' });
          return;
        }
        // Replayed: every partition changed nothing (a confirm found every hold CONFIRMED).
        const replayed = [...answers.values()].every((answer) => answer.ok && answer.replayed);
        const holds = cart.holds.map((hold) => merged(hold, pick(states.get(hold.reservationId))));
        then(holds, replayed);
      });
    }
  }

  private send(partition: number, command: Command, callback: CartCallback): void {
    this.transport.dispatchTo(partition, command, (reply) => callback(reply.outcome));
  }
}

const retriesMax = 30;

const ignore = (): void => undefined;

const unavailableOutcome: ShardOutcome = {
  ok: false,
  code: 'unavailable',
  message:
    'The cart could not be placed durably; nothing was acknowledged, retry with the same key.',
};

const confirmAbandoned: ShardOutcome = {
  ok: false,
  code: 'unavailable',
  message: 'The cart confirm could not be decided; nothing was acknowledged, retry.',
};

function cartIdCommand(kind: 'cart-settle' | 'cart-abort', terms: CartTerms): Command {
  return { kind, cartId: terms.cartId, traceId: terms.traceId };
}

function resultOf(outcome: ShardOutcome): string {
  return outcome.ok ? 'ok' : outcome.code;
}

/** What a hold's partition says of it now: status, sold units, expires_at. */
function pick(state: CartView['holds'][number] | undefined) {
  if (state === undefined) return {};
  return {
    status: state.status,
    ...(state.confirmedQuantity === undefined
      ? {}
      : { confirmedQuantity: state.confirmedQuantity }),
    ...(state.expiresAtMs === undefined ? {} : { expiresAtMs: state.expiresAtMs }),
    ...(state.lots === undefined ? {} : { lots: state.lots }),
  };
}

/**
 * One answer from the parts' answers: a purchase limit anywhere wins (all limit lines), else
 * every short line, else the first other refusal; undefined when every part said yes.
 */
function mergedRefusal(answers: readonly ShardOutcome[]): ShardOutcome | undefined {
  const refusals = answers.filter((answer) => !answer.ok);
  if (refusals.length === 0) return undefined;
  for (const code of ['purchase_limit_exceeded', 'insufficient_stock'] as const) {
    const same = refusals.filter((answer) => !answer.ok && answer.code === code);
    if (same.length === 0) continue;
    const lines = same.flatMap((answer) =>
      !answer.ok && 'details' in answer && Array.isArray(answer.details?.lines)
        ? (answer.details.lines as readonly Readonly<Record<string, string | number>>[])
        : [],
    );
    lines.sort((a, b) => (a.index as number) - (b.index as number));
    const first = same[0] as ShardOutcome & { ok: false };
    return merged(first, { details: { lines } }) as ShardOutcome;
  }
  return refusals[0];
}

export function cartStatus(
  holds: readonly { readonly status: ReservationStatus }[],
): ReservationStatus {
  if (holds.some((hold) => hold.status === 'PENDING')) return 'PENDING';
  if (holds.some((hold) => hold.status === 'CONFIRMED')) return 'CONFIRMED';
  if (holds.some((hold) => hold.status === 'EXPIRED')) return 'EXPIRED';
  return 'RELEASED';
}

/**
 * The cart with its holds' current states. It expires when its first PENDING hold does (an
 * extend moves that); with none PENDING, at the earliest expires_at its holds ended with.
 */
function withHolds(cart: CartView, holds: CartView['holds']): CartView {
  const pending = holds.filter((hold) => hold.status === 'PENDING');
  let expiresAtMs = Number.POSITIVE_INFINITY;
  for (const hold of pending.length > 0 ? pending : holds) {
    expiresAtMs = Math.min(expiresAtMs, hold.expiresAtMs ?? cart.expiresAtMs);
  }
  return merged(cart, { status: cartStatus(holds), expiresAtMs, holds });
}

/** A hold that is not CONFIRMED after a cart confirm: its state's code, and its id. */
function heldState(hold: CartView['holds'][number]): ShardOutcome {
  const code =
    hold.status === 'RELEASED'
      ? 'reservation_released'
      : hold.status === 'EXPIRED'
        ? 'reservation_expired'
        : 'unavailable';
  const message = 'The cart could not be confirmed whole; some holds may be CONFIRMED.';
  return { ok: false, code, message, details: { reservation_id: hold.reservationId } };
}

function notPending(status: ReservationStatus): ShardOutcome {
  return {
    ok: false,
    code: 'reservation_not_pending',
    message: `The cart is ${status}: no hold is PENDING.`,
    details: { status },
  };
}

function capExceeded(lifetimeMaxMs: number): ShardOutcome {
  const seconds = Math.floor(lifetimeMaxMs / 1000);
  return {
    ok: false,
    code: 'validation_failed',
    message: `a hold lives at most ${seconds} seconds from its created_at`,
    details: { field: 'ttl_seconds' },
  };
}

/** Partial quantities must name holds of this cart, each once, within what it holds. */
function checkNamed(
  cart: CartView,
  quantities: ReadonlyMap<string, number>,
): ShardOutcome | undefined {
  for (const [id, quantity] of quantities) {
    const hold = cart.holds.find((candidate) => candidate.reservationId === id);
    if (hold === undefined || quantity > hold.quantity) {
      const message =
        hold === undefined
          ? `lines names ${id}, which is not a hold of this cart`
          : `lines asks ${quantity} units of ${id}, which holds ${hold.quantity}`;
      return { ok: false, code: 'validation_failed', message, details: { field: 'lines' } };
    }
  }
  return undefined;
}
