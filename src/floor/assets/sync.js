// Talking to Depot: the session, the outbox sent through POST /v1/sync/ops (in order, each
// operation exactly once by its op_id), the change feed mirrored into IndexedDB, and the
// in-memory index the app resolves scans with when the network is gone.

import * as store from './store.js';

export const session = { token: null, kind: null, username: null, role: null, expiresAt: 0 };
export const net = { online: true };
const listeners = new Set();
const waiters = new Map(); // op_id -> resolve
let flushing = null;
let again = false;
let retryTimer = null;
let backoff = 500;
let refreshTimer = null;
let feedTimer = null;

export function on(fn) { listeners.add(fn); }
function emit(what, detail) { for (const fn of listeners) fn(what, detail); }

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

class Offline extends Error {}

function setOnline(value) {
  if (net.online === value) return;
  net.online = value;
  emit('net', value);
  if (value) { backoff = 500; flush(); pullChanges().catch(() => {}); }
}

// One request; throws Offline when the network (or the server) cannot be reached.
export async function api(method, path, body, { key, token, raw } = {}) {
  const headers = {};
  const bearer = token || session.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (key) headers['idempotency-key'] = key;
  let payload;
  if (raw) { payload = raw.body; headers['content-type'] = raw.type; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers['content-type'] = 'application/json'; }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    setOnline(false);
    scheduleRetry();
    throw new Offline(String(e));
  }
  // The service worker answers 503 with this header for API calls it could not forward.
  if (response.headers.get('x-floor-offline')) {
    setOnline(false);
    scheduleRetry();
    throw new Offline('offline');
  }
  setOnline(true);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  if (response.status === 401 && bearer === session.token && session.token) emit('unauthorized');
  return { status: response.status, body: json };
}

export function isOffline(e) { return e instanceof Offline; }

// Sessions: a person's JWT (refreshed before it ends) or a paired device's token.
export async function restore() {
  const s = await store.get('session');
  if (s) Object.assign(session, s);
  if (session.kind === 'user') scheduleRefresh();
  return !!session.token;
}

async function saveSession() {
  await store.put('session', { ...session });
}

export async function login(username, password) {
  const r = await api('POST', '/v1/auth/login', { username, password });
  if (r.status !== 200) return r;
  Object.assign(session, { token: r.body.access_token, kind: 'user', expiresAt: Date.now() + r.body.expires_in * 1000 });
  const me = await api('GET', '/v1/me');
  if (me.status === 200) Object.assign(session, { username: me.body.username, role: me.body.role });
  await saveSession();
  scheduleRefresh();
  return r;
}

// Pairing: the admin registers the device (POST /v1/devices) and shows its token as a code;
// scanning it here makes this browser that device. Checked against the change feed, which
// every user and device may read.
export async function pair(token) {
  const r = await api('GET', '/v1/sync/changes?limit=1', undefined, { token });
  if (r.status !== 200) return r;
  Object.assign(session, { token, kind: 'device', username: 'device', role: 'scanner', expiresAt: 0 });
  await saveSession();
  return r;
}

export async function logout() {
  Object.assign(session, { token: null, kind: null, username: null, role: null, expiresAt: 0 });
  clearTimeout(refreshTimer);
  await store.put('session', null);
  await store.forgetMirror();
  index.reset();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (session.kind !== 'user' || !session.expiresAt) return;
  const wait = Math.max(5000, (session.expiresAt - Date.now()) * 0.75);
  refreshTimer = setTimeout(async () => {
    try {
      const r = await api('POST', '/v1/auth/refresh');
      if (r.status === 200) {
        session.token = r.body.access_token;
        session.expiresAt = Date.now() + r.body.expires_in * 1000;
        await saveSession();
      }
    } catch { /* offline: try again later */ }
    scheduleRefresh();
  }, wait);
}

// The outbox. `submit` stores the operation first (so nothing is lost), then sends it at once
// when online. It answers the operation's result, or {queued: true} when it has to wait.
export async function submit(type, body, http) {
  const op = { op_id: newId(), type, at: new Date().toISOString(), body };
  if (http) op.http = http;
  await store.enqueue(op);
  emitCount();
  const result = new Promise((resolve) => waiters.set(op.op_id, resolve));
  if (net.online) flush();
  else { waiters.get(op.op_id)({ queued: true }); waiters.delete(op.op_id); probeSoon(); }
  return result;
}

async function emitCount() {
  emit('count', await store.pendingCount());
}

function answer(opId, result) {
  const resolve = waiters.get(opId);
  if (resolve) { waiters.delete(opId); resolve(result); }
  else if (result.status >= 400) emit('problem', result);
}

function releaseWaiters() {
  for (const [id, resolve] of waiters) { resolve({ queued: true }); waiters.delete(id); }
}

const RETRY_LATER = '/problems/idempotency-in-progress';

export function flush() {
  if (flushing) { again = true; return flushing; }
  flushing = (async () => {
    try {
      do {
        again = false;
        for (;;) {
          if (!session.token) return;
          const ops = await store.pending(1000);
          if (!ops.length) break;
          if (ops[0].http) {
            const op = ops[0];
            const r = await api(op.http.method, op.http.path, op.body, { key: op.op_id });
            if (r.status === 409 && r.body?.type === RETRY_LATER || r.status >= 500 || r.status === 401 || r.status === 429) {
              scheduleRetry(); return;
            }
            await store.remove([op.seq]);
            answer(op.op_id, { status: r.status, body: r.body, http: true });
            continue;
          }
          const batch = [];
          for (const o of ops) { if (o.http) break; batch.push(o); }
          const r = await api('POST', '/v1/sync/ops', {
            ops: batch.map((o) => ({ op_id: o.op_id, type: o.type, at: o.at, body: o.body })),
          });
          if (r.status !== 200) {
            if (r.status === 422) emit('problem', { status: r.status, body: r.body });
            scheduleRetry(); return;
          }
          const bySeq = new Map(batch.map((o) => [o.op_id, o.seq]));
          const finished = [];
          let stop = false;
          for (const result of r.body.results) {
            if (stop) break;
            if (result.status === 409 && result.body?.type === RETRY_LATER) { stop = true; break; }
            finished.push(bySeq.get(result.op_id));
          }
          await store.remove(finished);
          for (const result of r.body.results) {
            if (!(result.status === 409 && result.body?.type === RETRY_LATER)) answer(result.op_id, result);
          }
          emitCount();
          if (stop) { scheduleRetry(); return; }
        }
      } while (again);
      backoff = 500;
      emit('synced');
    } catch (e) {
      if (!isOffline(e)) console.error(e);
      releaseWaiters();
    } finally {
      flushing = null;
      emitCount();
    }
  })();
  return flushing;
}

function scheduleRetry() {
  if (retryTimer) return;
  const wait = backoff;
  backoff = Math.min(backoff * 2, 8000);
  retryTimer = setTimeout(probe, wait);
}

function probeSoon() { scheduleRetry(); }

async function probe() {
  retryTimer = null;
  if (!session.token) return;
  const waiting = await store.pendingCount();
  if (waiting) { flush(); return; }
  try { await api('GET', '/healthz'); } catch { /* still offline; api() scheduled the next probe */ }
}

// The change feed: read from the stored cursor until `more` is false; each page and its cursor
// are stored in one transaction.
export async function pullChanges() {
  if (!session.token) return;
  let cursor = (await store.get('cursor')) || '0';
  for (;;) {
    const r = await api('GET', `/v1/sync/changes?since=${encodeURIComponent(cursor)}&limit=1000`);
    if (r.status !== 200) return;
    await store.applyChanges(r.body.changes, r.body.next_cursor);
    for (const c of r.body.changes) index.apply(c);
    cursor = r.body.next_cursor;
    if (!r.body.more) break;
  }
  emit('feed');
}

export function startFeed() {
  clearTimeout(feedTimer);
  const tick = async () => {
    try { if (net.online) await pullChanges(); } catch { /* offline */ }
    feedTimer = setTimeout(tick, 45000 + Math.random() * 10000);
  };
  tick();
}

// What the app knows without the network, from the mirrored feed.
export const index = {
  items: new Map(), gtins: new Map(), aliases: new Map(), locations: new Map(),
  bins: new Map(), batches: new Map(), pickLists: new Map(), printers: new Map(),
  reset() {
    for (const m of [this.items, this.gtins, this.aliases, this.locations, this.bins, this.batches, this.pickLists, this.printers]) m.clear();
  },
  async load() {
    this.reset();
    for (const e of await store.allEntities()) this.apply({ entity: e.entity, id: e.id, op: 'upsert', data: e.data });
  },
  apply(c) {
    const del = c.op === 'delete';
    switch (c.entity) {
      case 'item': {
        const old = this.items.get(c.id);
        if (old) for (const g of old.gtins || []) this.gtins.delete(g.gtin);
        if (del) { this.items.delete(c.id); break; }
        this.items.set(c.id, c.data);
        for (const g of c.data.gtins || []) this.gtins.set(g.gtin, { item_id: c.id, quantity: g.quantity });
        break;
      }
      case 'alias':
        if (del) this.aliases.delete(String(c.id).toUpperCase());
        else this.aliases.set(String(c.data.code || c.id).toUpperCase(), c.data);
        break;
      case 'location': {
        const old = this.locations.get(c.id);
        if (old) this.bins.delete(String(old.barcode || old.code).toUpperCase());
        if (del) { this.locations.delete(c.id); break; }
        this.locations.set(c.id, c.data);
        this.bins.set(String(c.data.barcode || c.data.code).toUpperCase(), c.data);
        break;
      }
      case 'batch':
        if (del) { for (const [k, b] of this.batches) if (b.id === c.id) this.batches.delete(k); }
        else this.batches.set(`${c.data.item_id}:${c.data.code}`, c.data);
        break;
      case 'pick_list':
        if (del) this.pickLists.delete(c.id); else this.pickLists.set(c.id, c.data);
        break;
      case 'printer':
        if (del) this.printers.delete(c.id); else this.printers.set(c.id, c.data);
        break;
      default:
    }
  },
};

// Exceptions: what the server kept of this person's operations that failed.
export async function exceptions() {
  const r = await api('GET', '/v1/sync/exceptions?limit=100');
  if (r.status !== 200) return [];
  return r.body.items.filter((e) => !e.resolved_at);
}
