// Local storage in IndexedDB: the outbox (operations in the order made), the mirror of the
// change feed (entities with their cursor, written in one transaction) and small settings.

const DB_NAME = 'depot-floor';
let dbPromise = null;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

export function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = () => {
        const db = r.result;
        db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        db.createObjectStore('entities', { keyPath: 'key' });
        db.createObjectStore('kv');
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbPromise;
}

export async function get(key) {
  const db = await open();
  return req(db.transaction('kv').objectStore('kv').get(key));
}

export async function put(key, value) {
  const db = await open();
  const tx = db.transaction('kv', 'readwrite');
  tx.objectStore('kv').put(value, key);
  return done(tx);
}

// The outbox.
export async function enqueue(op) {
  const db = await open();
  const tx = db.transaction('outbox', 'readwrite');
  const seq = await req(tx.objectStore('outbox').add(op));
  await done(tx);
  return seq;
}

export async function pending(limit = 1000) {
  const db = await open();
  return req(db.transaction('outbox').objectStore('outbox').getAll(undefined, limit));
}

export async function pendingCount() {
  const db = await open();
  return req(db.transaction('outbox').objectStore('outbox').count());
}

export async function remove(seqs) {
  if (!seqs.length) return;
  const db = await open();
  const tx = db.transaction('outbox', 'readwrite');
  const store = tx.objectStore('outbox');
  for (const s of seqs) store.delete(s);
  return done(tx);
}

// The change feed's mirror: a page of changes and its cursor in one transaction.
export async function applyChanges(changes, cursor) {
  const db = await open();
  const tx = db.transaction(['entities', 'kv'], 'readwrite');
  const store = tx.objectStore('entities');
  for (const c of changes) {
    const key = `${c.entity}:${c.id}`;
    if (c.op === 'delete') store.delete(key);
    else store.put({ key, entity: c.entity, id: c.id, data: c.data });
  }
  tx.objectStore('kv').put(cursor, 'cursor');
  return done(tx);
}

export async function allEntities() {
  const db = await open();
  return req(db.transaction('entities').objectStore('entities').getAll());
}

export async function putEntity(entity, id, data) {
  const db = await open();
  const tx = db.transaction('entities', 'readwrite');
  tx.objectStore('entities').put({ key: `${entity}:${id}`, entity, id, data });
  return done(tx);
}

// Signing out forgets the session and the mirror, never the outbox: what was scanned is sent.
export async function forgetMirror() {
  const db = await open();
  const tx = db.transaction(['entities', 'kv'], 'readwrite');
  tx.objectStore('entities').clear();
  tx.objectStore('kv').delete('cursor');
  return done(tx);
}
