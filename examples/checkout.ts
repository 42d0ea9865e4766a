// A cart checkout with the typed client. Needs a running ledger (`npm start`, auth off):
//
//   npx tsx examples/checkout.ts                      # against http://127.0.0.1:8080
//   LEDGER_URL=http://127.0.0.1:9090 npx tsx examples/checkout.ts
//
// It stocks two products, places a cart, confirms it, then tries a cart larger than the stock
// left and handles the refusal (409 insufficient_stock, one entry per short line).
import { randomUUID } from 'node:crypto';
import {
  LedgerClient,
  isInsufficientStock,
  type Cart,
  type CartLine,
} from '../client/src/index.js';

const ledger = new LedgerClient({
  baseUrl: process.env.LEDGER_URL ?? 'http://127.0.0.1:8080',
  // A checkout waits at most 5 s for the ledger, retries included.
  deadlineMs: 5_000,
  onRetry: ({ operationId, attempt, delayMs, error }) =>
    console.log(
      `retrying ${operationId} (attempt ${attempt} failed: ${error.message}) in ${Math.round(delayMs)} ms`,
    ),
});

/** Places the cart and confirms it; undefined when stock is short (nothing is then held). */
async function checkout(orderId: string, lines: readonly CartLine[]): Promise<Cart | undefined> {
  let cart: Cart;
  try {
    // The order id makes the key: a shopper's double click or a retry places one cart.
    cart = await ledger.placeCart(
      { lines, reference: orderId, ttl_seconds: 300 },
      { idempotencyKey: `checkout-${orderId}` },
    );
  } catch (error) {
    if (!isInsufficientStock(error)) throw error;
    console.log(`order ${orderId}: not enough stock`, JSON.stringify(error.details?.lines));
    return undefined;
  }
  console.log(`order ${orderId}: cart ${cart.cart_id} holds ${cart.holds.length} lines`);
  // Payment would happen here; confirming is idempotent, so a retry after a lost answer is safe.
  const confirmed = await ledger.confirmCart(cart.cart_id);
  console.log(`order ${orderId}: ${confirmed.status}`);
  return confirmed;
}

async function main(): Promise<void> {
  const run = randomUUID().slice(0, 8);
  const [mug, tee] = [`mug-${run}`, `tee-${run}`];
  await ledger.adjust({ product_id: mug, warehouse_id: 'wh-1', delta: 5, reason: 'example' });
  await ledger.adjust({ product_id: tee, warehouse_id: 'wh-1', delta: 2, reason: 'example' });

  await checkout(`order-${run}-1`, [
    { product_id: mug, warehouse_id: 'wh-1', quantity: 2 },
    { product_id: tee, quantity: 1 },
  ]);
  await checkout(`order-${run}-2`, [
    { product_id: mug, quantity: 1 },
    { product_id: tee, quantity: 5 },
  ]);
  for (const product of [mug, tee]) {
    const stock = await ledger.getProductStock(product);
    console.log(`${product}: on_hand ${stock.on_hand}, available ${stock.available}`);
  }
}

await main();
