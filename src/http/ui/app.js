// The live page's script (no build step, no dependencies). Every 2 s it asks GET /v1/ui/summary
// for the numbers and the hot keys; it watches the hot keys' stock over the live feed
// (/v1/stream), which sends each key's durable state after every change. When the ledger wants
// a token, nothing is asked for until the user gives one: it is kept in this tab's
// sessionStorage and sent as a bearer token to the summary and as access_token to the feed.

const pollMs = 2000;
const tokenKey = 'ledger-ui-token';
/** The live feed's limit of keys per socket. */
const watchedMax = 100;

const authRequired =
  document.querySelector('meta[name="ledger-auth"]')?.getAttribute('content') === 'bearer';

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(tokenKey) ?? '',
  running: false,
  timer: undefined,
  socket: undefined,
  /** Keys shown, in the summary's order: JSON [product, warehouse] -> row. */
  rows: new Map(),
  /** Keys subscribed on the current socket. */
  subscribed: new Set(),
};

const keyOf = (productId, warehouseId) => JSON.stringify([productId, warehouseId]);

function setStatus(text) {
  $('status').textContent = text;
}

function showMessage(text) {
  $('message').textContent = text;
  $('message').hidden = text === '';
}

function authHeaders() {
  return state.token === '' ? {} : { authorization: `Bearer ${state.token}` };
}

function milliseconds(seconds) {
  if (seconds === null) return '—';
  return seconds < 0.01 ? `${(seconds * 1000).toFixed(2)} ms` : `${(seconds * 1000).toFixed(1)} ms`;
}

function perSecond(value) {
  return value === null ? '—' : value.toFixed(value < 10 ? 2 : 0);
}

function renderNumbers(summary) {
  $('reserve-rate').textContent = perSecond(summary.reserve.per_second);
  $('reserve-p99').textContent = milliseconds(summary.reserve.p99_seconds);
  $('cart-rate').textContent = perSecond(summary.carts.per_second);
  $('cart-p99').textContent = milliseconds(summary.carts.p99_seconds);
  $('journal-in-flight').textContent = String(summary.journal.in_flight);
  $('journal-flush-p99').textContent = milliseconds(summary.journal.flush_p99_seconds);
  $('window').textContent =
    summary.window_seconds === null ? '— (measuring)' : `${Math.round(summary.window_seconds)} s`;
  const events = summary.events;
  if (events === null) {
    $('events-lag-records').textContent = '—';
    $('events-detail').textContent = 'publishing off (NATS_URL not set)';
  } else {
    $('events-lag-records').textContent = String(events.lag_records);
    const connection = events.connected ? 'connected' : 'NOT connected';
    $('events-detail').textContent =
      `oldest ${events.lag_seconds.toFixed(1)} s old · ${connection}`;
  }
}

function newRow(productId, warehouseId) {
  const row = document.createElement('tr');
  row.dataset.product = productId;
  row.dataset.warehouse = warehouseId;
  for (const [name, text] of [
    ['product', productId],
    ['warehouse', warehouseId],
    ['available', ''],
    ['version', '—'],
  ]) {
    const cell = document.createElement('td');
    cell.className = name;
    cell.textContent = text;
    row.append(cell);
  }
  return row;
}

function setAvailable(row, available, version) {
  const cell = row.querySelector('td.available');
  const before = cell.textContent;
  cell.textContent = String(available);
  if (version !== undefined) row.querySelector('td.version').textContent = String(version);
  row.classList.toggle('sold-out', available <= 0);
  if (before !== '' && before !== cell.textContent) {
    row.classList.add('changed');
    setTimeout(() => row.classList.remove('changed'), 800);
  }
}

/** The hot keys of the summary, in its order; a key's value from the feed wins once it has one. */
function renderHotKeys(hotKeys) {
  const shown = hotKeys.slice(0, watchedMax);
  const wanted = new Map(shown.map((key) => [keyOf(key.product_id, key.warehouse_id), key]));
  for (const [key, row] of state.rows) {
    if (!wanted.has(key)) {
      row.remove();
      state.rows.delete(key);
    }
  }
  const body = $('hot-keys');
  for (const [key, hot] of wanted) {
    let row = state.rows.get(key);
    if (row === undefined) {
      row = newRow(hot.product_id, hot.warehouse_id);
      state.rows.set(key, row);
      setAvailable(row, hot.available, undefined);
    } else if (row.querySelector('td.version').textContent === '—') {
      setAvailable(row, hot.available, undefined);
    }
    body.append(row);
  }
  $('no-hot-keys').hidden = shown.length > 0;
  renderSoldOut();
  syncSubscriptions();
}

function renderSoldOut() {
  const list = $('sold-out');
  list.replaceChildren();
  for (const row of state.rows.values()) {
    if (!row.classList.contains('sold-out')) continue;
    const item = document.createElement('li');
    item.dataset.product = row.dataset.product;
    item.dataset.warehouse = row.dataset.warehouse;
    item.textContent = `${row.dataset.product} / ${row.dataset.warehouse}`;
    list.append(item);
  }
  $('none-sold-out').hidden = list.children.length > 0;
}

function openSocket() {
  if (state.socket !== undefined) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = state.token === '' ? '' : `?access_token=${encodeURIComponent(state.token)}`;
  const socket = new WebSocket(`${scheme}//${location.host}/v1/stream${query}`);
  state.socket = socket;
  state.subscribed = new Set();
  $('feed-state').textContent = '(connecting to the live feed…)';
  socket.addEventListener('open', () => {
    $('feed-state').textContent = '(live)';
    syncSubscriptions();
  });
  socket.addEventListener('message', (event) => onFeedMessage(event.data));
  socket.addEventListener('close', () => {
    if (state.socket === socket) state.socket = undefined;
    // The next poll opens a new one while the page runs.
    if (state.running) $('feed-state').textContent = '(live feed lost: reconnecting)';
  });
}

function onFeedMessage(text) {
  const message = JSON.parse(text);
  if (message.error !== undefined) {
    showMessage(`The live feed answered ${message.error.code}: ${message.error.message}`);
    return;
  }
  const row = state.rows.get(keyOf(message.product_id, message.warehouse_id));
  if (row === undefined) return;
  const shown = Number(row.querySelector('td.version').textContent);
  // Keep the highest version: a subscription's first read may arrive after a newer change.
  if (!Number.isNaN(shown) && shown > message.version) return;
  setAvailable(row, message.available, message.version);
  renderSoldOut();
}

function syncSubscriptions() {
  const socket = state.socket;
  if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
  const toKey = (key) => {
    const [product_id, warehouse_id] = JSON.parse(key);
    return { product_id, warehouse_id };
  };
  const subscribe = [...state.rows.keys()].filter((key) => !state.subscribed.has(key));
  const unsubscribe = [...state.subscribed].filter((key) => !state.rows.has(key));
  if (subscribe.length === 0 && unsubscribe.length === 0) return;
  for (const key of unsubscribe) state.subscribed.delete(key);
  for (const key of subscribe) state.subscribed.add(key);
  socket.send(
    JSON.stringify({ subscribe: subscribe.map(toKey), unsubscribe: unsubscribe.map(toKey) }),
  );
}

async function poll() {
  let response;
  try {
    response = await fetch('/v1/ui/summary', { headers: authHeaders(), cache: 'no-store' });
  } catch {
    setStatus(`The ledger is not reachable (${new Date().toLocaleTimeString()}); retrying.`);
    return;
  }
  if (!state.running) return;
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({ error: { message: '' } }));
    stop();
    showMessage(
      `The ledger refused this token (${response.status}): ${body.error.message} ` +
        'Paste a token with the reader, checkout or admin role.',
    );
    return;
  }
  if (!response.ok) {
    setStatus(`The summary answered ${response.status}; retrying.`);
    return;
  }
  const summary = await response.json();
  showMessage('');
  $('data').hidden = false;
  setStatus(`Updated ${new Date(summary.at).toLocaleTimeString()}.`);
  renderNumbers(summary);
  renderHotKeys(summary.hot_keys);
  openSocket();
}

function start() {
  if (state.running) return;
  state.running = true;
  setStatus('Loading…');
  void poll();
  state.timer = setInterval(() => void poll(), pollMs);
}

/** Stops asking and shows nothing: the data of a refused or forgotten token goes too. */
function stop() {
  state.running = false;
  clearInterval(state.timer);
  state.socket?.close();
  state.socket = undefined;
  state.rows.clear();
  $('hot-keys').replaceChildren();
  $('sold-out').replaceChildren();
  $('data').hidden = true;
  setStatus('Stopped.');
}

function askForToken(text) {
  showMessage(text);
  setStatus('Waiting for a token.');
}

function setUpToken() {
  const form = $('token-form');
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    $('token').value = '';
    if (token === '') return;
    stop();
    state.token = token;
    sessionStorage.setItem(tokenKey, token);
    start();
  });
  $('forget-token').addEventListener('click', () => {
    stop();
    state.token = '';
    sessionStorage.removeItem(tokenKey);
    askForToken('Token forgotten. This ledger requires a token: paste one to see its data.');
  });
}

if (authRequired) {
  setUpToken();
  if (state.token === '') {
    askForToken(
      'This ledger requires a token with the reader (or checkout, or admin) role: paste one ' +
        'above. Nothing is shown without it.',
    );
  } else {
    start();
  }
} else {
  start();
}
