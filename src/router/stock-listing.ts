// A page of the stock listing: the read view gives its keys in order, each with its durable view
// where that is exact now; the shards are asked for the others (one read-stock each, all sent in
// the same turn, so each shard gets them in one batch), and the page is answered when all have
// answered, in the view's order. A shard expires what is due before it answers, and its answer
// leaves only once what it saw is durable: no page ever shows a change that is not durable.
import type { Command, StockView } from '../actors/index.js';
import type { ReplyCallback, ShardOutcome } from '../shards/index.js';
import type { StockKey, ViewPage } from './read-view.js';

/** A refusal: the page cannot be answered now (503), or an error a shard gave for a key. */
export type StockListingRefusal = Extract<ShardOutcome, { ok: false }>;

export type StockListing =
  | {
      readonly ok: true;
      readonly items: readonly StockView[];
      /** The page's last key when more keys follow it (the next page starts after it). */
      readonly next: StockKey | undefined;
    }
  | StockListingRefusal;

/** Sends one command to a partition's shard; returns how to take it back before it leaves. */
export type AskShard = (
  partition: number,
  command: Command,
  callback: ReplyCallback,
) => (() => void) | undefined;

/**
 * Answers `page` through `done`: at once when the view had every key exactly, else once the
 * shards have answered for the rest. Returns how to take back the questions not yet sent (the
 * client went away), or undefined when the page was answered at once.
 */
export function gatherPage(
  page: ViewPage,
  ask: AskShard,
  done: (listing: StockListing) => void,
): (() => void) | undefined {
  const { entries, more } = page;
  const last = entries[entries.length - 1];
  const next = more && last !== undefined ? last.key : undefined;
  const items: (StockView | undefined)[] = entries.map((entry) => entry.stock);
  let waiting = entries.reduce((count, entry) => count + (entry.stock === undefined ? 1 : 0), 0);
  if (waiting === 0) {
    done({ ok: true, items: items as StockView[], next });
    return undefined;
  }
  let finished = false;
  const cancels: (() => void)[] = [];
  const finish = (listing: StockListing): void => {
    finished = true;
    // A refused page: the questions still waiting to leave this turn are not worth sending.
    if (!listing.ok) for (const cancel of cancels) cancel();
    done(listing);
  };
  entries.forEach((entry, index) => {
    if (entry.stock !== undefined || finished) return;
    const command: Command = { kind: 'read-stock', ...entry.key };
    const cancel = ask(entry.partition, command, ({ outcome }) => {
      if (finished) return;
      if (!outcome.ok && outcome.code !== 'not_found') {
        finish(outcome);
        return;
      }
      // A key the view knows is durable, and keys are never removed: a shard that does not know
      // it cannot happen; were it to, the key is left out rather than invented.
      if (outcome.ok && 'stock' in outcome) items[index] = outcome.stock;
      waiting -= 1;
      if (waiting === 0) finish({ ok: true, items: items.filter(isStock), next });
    });
    if (cancel !== undefined) cancels.push(cancel);
  });
  if (finished) return undefined;
  return () => {
    finished = true;
    for (const cancel of cancels) cancel();
  };
}

const isStock = (item: StockView | undefined): item is StockView => item !== undefined;
