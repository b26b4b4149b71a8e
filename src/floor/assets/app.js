// Depot Floor: screens driven by scans. One scan field keeps the focus, so a keyboard-wedge
// scanner (Enter or Tab after each code) or the camera drives every screen; every change goes
// through the outbox (sync.js), and lookups work offline from the mirrored change feed.

import * as store from './store.js';
import * as sync from './sync.js';
import { index, session, net } from './sync.js';
import { normalise, resolve, startCamera, stopCamera } from './scan.js';
import { show, clear, scanStarted, unlockAudio } from './feedback.js';
import { qrSvg } from './qr.js';

const $ = (id) => document.getElementById(id);
const scanInput = $('scan');
let screen = null;
let profiles = [];
let profile = null;

// --- small DOM helpers (no innerHTML with data: everything goes in as text) ---
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function button(text, onclick, cls = 'btn', attrs = {}) {
  return h('button', { type: 'button', class: cls, onclick, ...attrs }, text);
}

function field(id, label, attrs = {}) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name: id, ...attrs }));
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
}

function render(title, ...children) {
  $('title').textContent = title;
  document.title = `${title} · Depot Floor`;
  $('screen').replaceChildren(...children);
}

function problemText(body) {
  if (!body) return 'no answer';
  if (typeof body === 'string') return body;
  return body.detail || body.title || JSON.stringify(body);
}

function itemName(item) { return item ? `${item.name} (${item.code})` : 'unknown item'; }

function focusScan() {
  if (!$('scan-form').hidden) scanInput.focus({ preventScroll: true });
}

// --- the scan field: Enter or Tab ends a scan ---
function setScan(label, placeholder) {
  $('scan-form').hidden = !label;
  $('scan-label').textContent = label || 'Scan';
  scanInput.placeholder = placeholder || '';
  scanInput.value = '';
  focusScan();
}

async function endScan() {
  const raw = scanInput.value;
  scanInput.value = '';
  const data = normalise(raw, profile);
  if (!data) { screen?.onEmpty?.(); return; }
  scanStarted();
  try {
    if (screen?.onScan) await screen.onScan(data);
    else await lookup(data);
  } catch (e) {
    show('bad', 'Something went wrong', String(e.message || e));
  }
  focusScan();
}

$('scan-form').addEventListener('submit', (e) => { e.preventDefault(); endScan(); });
scanInput.addEventListener('keydown', (e) => {
  unlockAudio();
  // Tab ends a scan when something was scanned; on an empty field it moves on as usual.
  if (e.key === 'Tab' && !e.shiftKey && scanInput.value) { e.preventDefault(); endScan(); }
});
// A wedge scanner types wherever the focus is: characters typed outside a text field go to the
// scan field. Focus that falls back to the page returns to the scan field.
document.addEventListener('keydown', (e) => {
  const t = document.activeElement;
  const typing = t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA');
  if (!typing && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && !$('scan-form').hidden) focusScan();
});
document.addEventListener('focusout', () => {
  setTimeout(() => { if (!document.activeElement || document.activeElement === document.body) focusScan(); }, 0);
});
document.addEventListener('pointerdown', unlockAudio, { once: true });

// --- header: connection, outbox badge, problems ---
function showNet() {
  const el = $('net');
  el.dataset.state = net.online ? 'online' : 'offline';
  el.textContent = net.online ? 'Online' : 'Offline';
}

sync.on(async (what, detail) => {
  if (what === 'net') showNet();
  if (what === 'count') { $('outbox').textContent = String(detail); $('outbox').dataset.count = String(detail); }
  if (what === 'unauthorized') { show('bad', 'Signed out', 'Your session ended: sign in again. Waiting operations are kept.'); go('#/login'); }
  if (what === 'problem' || what === 'synced') refreshProblems();
  if (what === 'synced' || what === 'feed') screen?.onSynced?.();
});

let problems = [];
async function refreshProblems() {
  if (!session.token || !net.online) return;
  try { problems = await sync.exceptions(); } catch { return; }
  const btn = $('problems');
  btn.hidden = problems.length === 0;
  btn.textContent = `! ${problems.length}`;
  btn.setAttribute('aria-label', `${problems.length} problems with sent operations`);
}

$('problems').addEventListener('click', () => go('#/problems'));
$('home').addEventListener('click', () => go(session.token ? '#/home' : '#/login'));
$('camera').addEventListener('click', async () => {
  $('camera-view').hidden = false;
  const ok = await startCamera($('video'), (code) => { scanInput.value = code; endScan(); }, (m) => show('bad', 'Camera', m));
  if (!ok) $('camera-view').hidden = true;
});
$('camera-stop').addEventListener('click', () => { stopCamera($('video')); $('camera-view').hidden = true; focusScan(); });

// --- routing ---
function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
window.addEventListener('hashchange', route);

const screens = {};

async function route() {
  const [, name, arg] = (location.hash || '#/home').split('/');
  if (!session.token && name !== 'login') { go('#/login'); return; }
  clear();
  screen = null;
  const make = screens[name] || screens.home;
  screen = (await make(arg)) || {};
  focusScan();
}

// A scan resolved on the device; when the mirror does not know it yet and the network is up,
// the change feed is read once more first (an item or bin created since the last poll).
async function resolveFresh(data) {
  let r = resolve(data);
  if ((r.kind === 'unknown' || (r.kind === 'item' && !r.item)) && net.online) {
    try { await sync.pullChanges(); } catch { /* offline after all */ }
    r = resolve(data);
  }
  return r;
}

// --- operations: sent at once, or kept in the outbox ---
async function operate(type, body) {
  const result = await sync.submit(type, body);
  return result;
}

function outcome(result, okText, okDetail) {
  if (result.queued) { show('warn', 'Saved offline', `${okText}: will be sent when the network is back.`); return 'queued'; }
  if (result.status < 300) { show('ok', okText, okDetail?.(result.body)); return 'ok'; }
  show('bad', `Refused (${result.status})`, problemText(result.body));
  return 'bad';
}

// --- sign in ---
screens.login = () => {
  const form = h('form', { class: 'card', autocomplete: 'on' },
    h('h2', {}, 'Sign in'),
    field('username', 'User name', { autocomplete: 'username', autocapitalize: 'off', required: true }),
    field('password', 'Password', { type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'btn primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    unlockAudio();
    try {
      const r = await sync.login($('username').value.trim(), $('password').value);
      if (r.status !== 200) { show('bad', 'Not signed in', problemText(r.body)); return; }
      show('ok', `Signed in as ${session.username}`);
      await afterSignIn();
    } catch (err) {
      show('bad', 'No network', 'Signing in needs the network once.');
    }
  });
  render('Sign in', form, h('p', { class: 'muted' }, 'Or pair this device: scan the device code an admin shows on the Devices page (a device token, dpt_…).'));
  setScan('Scan a device code', 'dpt_…');
  return {
    async onScan(data) {
      if (!data.startsWith('dpt_')) { show('bad', 'Not a device code', 'A device code starts with dpt_.'); return; }
      try {
        const r = await sync.pair(data);
        if (r.status !== 200) { show('bad', 'Pairing refused', problemText(r.body)); return; }
        show('ok', 'Device paired');
        await afterSignIn();
      } catch { show('bad', 'No network', 'Pairing needs the network.'); }
    },
  };
};

async function afterSignIn() {
  try { await sync.pullChanges(); } catch { /* offline */ }
  sync.startFeed();
  sync.flush();
  loadProfiles();
  refreshProblems();
  go('#/home');
}

async function loadProfiles() {
  try {
    const r = await sync.api('GET', '/v1/scan-profiles');
    if (r.status === 200) {
      profiles = r.body.items.filter((p) => p.kind === 'scanner');
      await store.put('profiles', profiles);
      if (!$('profile')?.options.length && (location.hash === '#/home' || !location.hash)) route();
    }
  } catch { /* offline: keep the stored list */ }
}

// --- home ---
const MENU = [
  ['#/lookup', 'Look up'], ['#/receive', 'Receive'], ['#/move', 'Move'], ['#/pick', 'Pick'],
  ['#/count', 'Count'], ['#/pack', 'Pack'], ['#/deal', 'Deal'], ['#/problems', 'Problems'],
];

screens.home = async () => {
  const select = h('select', { id: 'profile' },
    profiles.map((p) => h('option', { value: p.name, selected: p.name === profile?.name }, p.title || p.name)));
  select.addEventListener('change', async () => {
    profile = profiles.find((p) => p.name === select.value) || null;
    await store.put('profile', profile?.name || null);
    show('info', `Scanner: ${profile?.title || 'default'}`);
  });
  render('Depot Floor',
    h('nav', { class: 'menu', 'aria-label': 'Tasks' }, MENU.map(([href, text]) => h('a', { href }, text)),
      session.role === 'admin' ? h('a', { href: '#/devices' }, 'Pair a device') : null),
    h('div', { class: 'card' },
      h('p', {}, `Signed in as ${session.username || '?'} (${session.role || '?'})`),
      h('div', { class: 'field' }, h('label', { for: 'profile' }, 'Scanner profile'), select),
      h('div', { class: 'row' },
        button('Send now', () => { sync.flush(); sync.pullChanges().catch(() => {}); }),
        button('Sign out', async () => { await sync.logout(); go('#/login'); }, 'btn danger'))));
  setScan('Scan anything', 'bin, item, pick list, deal');
  return { onScan: lookup };
};

// --- look up ---
async function lookup(data) {
  const local = resolve(data);
  if (local.kind === 'pick_list') { go(`#/pick/${local.id}`); return; }
  if (local.kind === 'deal') { go(`#/deal/${local.id}`); return; }
  const body = { data };
  if (profile) body.profile = profile.name;
  const result = await operate('scan', body);
  if (result.queued) { showLocal(local, data); return; }
  if (result.status >= 300) { show('bad', 'Not a valid code', problemText(result.body)); return; }
  const s = result.body;
  if (!s.matches.length) { show('bad', 'Unknown code', `${s.kind}: ${s.data}`); return; }
  const m = s.matches[0];
  const detail = [];
  if (s.gs1?.batch) detail.push(`batch ${s.gs1.batch}`);
  if (s.gs1?.expiry) detail.push(`expires ${s.gs1.expiry}`);
  if (m.type === 'item') show('ok', `${m.name} (${m.code})`, [`${m.quantity} ${m.unit} per pack`, ...detail].join(' · '));
  else if (m.type === 'location') show('ok', `Bin ${m.code}`, `warehouse ${m.warehouse_id}`);
  else show('ok', `${m.type} ${m.code || m.id}`, detail.join(' · '));
}

function showLocal(local, data) {
  if (local.kind === 'item' && local.item) {
    const d = [`${local.pack} per pack`];
    if (local.gs1?.batch) d.push(`batch ${local.gs1.batch}`);
    if (local.gs1?.expiry) d.push(`expires ${local.gs1.expiry}`);
    show('warn', itemName(local.item), `Offline answer · ${d.join(' · ')}`);
  } else if (local.kind === 'location') show('warn', `Bin ${local.location.code}`, 'Offline answer');
  else show('bad', 'Unknown code (offline)', data);
}

screens.lookup = () => {
  render('Look up', h('p', { class: 'muted' }, 'Scan an item, case, pallet, batch, bin, pick list or deal.'));
  setScan('Scan to look up');
  return { onScan: lookup };
};

// --- receive: bin, then goods (GS1: item, batch, expiry, count), confirm ---
screens.receive = () => {
  const st = { bin: null, pending: null };
  const body = h('div', {});
  const draw = () => {
    const parts = [h('div', { class: 'card' }, h('h2', {}, 'Into bin'), h('p', { class: 'big' }, st.bin ? st.bin.code : '—'))];
    if (st.pending) {
      const p = st.pending;
      parts.push(h('div', { class: 'card' }, h('h2', {}, 'Receive'),
        kv([['Item', itemName(p.item)], ['Batch', p.gs1?.batch], ['Expiry', p.gs1?.expiry || p.gs1?.best_before], ['Per pack', p.gs1?.count || p.pack]]),
        field('receive-qty', 'Packs', { type: 'number', inputmode: 'numeric', min: 1, value: p.packs }),
        h('div', { class: 'row' }, button('Confirm', confirm, 'btn primary'), button('Cancel', () => { st.pending = null; draw(); clear(); focusScan(); }))));
    }
    body.replaceChildren(...parts);
    setScan(st.bin ? (st.pending ? 'Scan again to confirm' : 'Scan goods') : 'Scan the bin');
  };
  async function confirm() {
    const p = st.pending;
    const qty = parseInt($('receive-qty')?.value || p.packs, 10);
    if (!(qty > 0)) { show('bad', 'Quantity', 'Enter how many packs.'); return; }
    st.pending = null;
    draw();
    const result = await operate('receipt', { warehouse_id: st.bin.warehouse_id, location_id: st.bin.id, lines: [{ scan: p.data, quantity: qty }] });
    outcome(result, `Received ${qty} × ${p.item.name}`, () => `into ${st.bin.code}${p.gs1?.batch ? `, batch ${p.gs1.batch}` : ''}`);
  }
  render('Receive', body);
  draw();
  return {
    async onScan(data) {
      const r = await resolveFresh(data);
      if (r.kind === 'location') { st.bin = r.location; st.pending = null; draw(); show('ok', `Receiving into ${r.location.code}`); return; }
      if (!st.bin) { show('bad', 'Scan the bin first'); return; }
      if (st.pending && st.pending.data === data) { await confirm(); return; }
      if (r.kind !== 'item' || !r.item) { show('bad', 'Unknown goods', data); return; }
      if (r.item.tracking === 'batch' && !r.gs1?.batch) { show('bad', 'No batch in this code', 'Scan the GS1 code with the batch.'); return; }
      st.pending = { data, item: r.item, gs1: r.gs1, pack: r.pack, packs: 1 };
      draw();
      show('info', itemName(r.item), 'Check and confirm: scan it again or press Confirm.');
    },
    onEmpty() { if (st.pending) confirm(); },
  };
};

// --- move: from bin, goods, quantity, to bin ---
screens.move = () => {
  const st = { from: null, goods: null };
  const body = h('div', {});
  const draw = () => {
    const parts = [h('div', { class: 'card' }, kv([['From', st.from?.code || '—'], ['Goods', st.goods ? itemName(st.goods.item) : '—'], ['Batch', st.goods?.gs1?.batch]]))];
    if (st.goods) parts.push(field('move-qty', `Quantity (${st.goods.item.unit || 'units'})`, { type: 'number', inputmode: 'numeric', min: 1, value: st.goods.qty }));
    parts.push(button('Start again', () => { st.from = null; st.goods = null; draw(); clear(); focusScan(); }));
    body.replaceChildren(...parts);
    setScan(!st.from ? 'Scan the bin to take from' : !st.goods ? 'Scan the goods' : 'Scan the bin to put into');
  };
  render('Move', body);
  draw();
  return {
    async onScan(data) {
      const r = await resolveFresh(data);
      if (!st.from) {
        if (r.kind !== 'location') { show('bad', 'Scan a bin first'); return; }
        st.from = r.location; draw(); show('ok', `From ${r.location.code}`); return;
      }
      if (!st.goods) {
        if (r.kind !== 'item' || !r.item) { show('bad', 'Scan the goods', 'That is not an item here.'); return; }
        st.goods = { item: r.item, gs1: r.gs1, qty: r.pack * (r.gs1?.count || 1) }; draw(); show('ok', itemName(r.item)); return;
      }
      if (r.kind !== 'location') { show('bad', 'Scan the bin to put into'); return; }
      const qty = parseInt($('move-qty')?.value || st.goods.qty, 10);
      const bodyOp = { item_id: st.goods.item.id, from_location_id: st.from.id, to_location_id: r.location.id, quantity: qty };
      if (st.goods.gs1?.batch) bodyOp.batch = st.goods.gs1.batch;
      const goods = st.goods; const from = st.from;
      st.goods = null; draw();
      const result = await operate('move', bodyOp);
      outcome(result, `Moved ${qty} ${goods.item.name}`, () => `${from.code} → ${r.location.code}`);
    },
  };
};

// --- pick ---
const REASONS = {
  wrong_location: 'Wrong bin', wrong_item: 'Wrong item', wrong_batch: 'Wrong batch',
  expired: 'Expired or blocked', more_than_needed: 'More than needed', batch_missing: 'Batch missing',
};

screens.pick = async (arg) => {
  if (arg) return pickList(+arg);
  const body = h('div', {});
  const draw = async () => {
    let lists = [...index.pickLists.values()];
    try {
      const r = await sync.api('GET', '/v1/pick-lists?limit=100');
      if (r.status === 200) lists = r.body.items;
    } catch { /* offline: the mirrored lists */ }
    lists = lists.filter((l) => l.status !== 'done' && l.status !== 'cancelled');
    body.replaceChildren(lists.length
      ? h('ul', { class: 'list', 'aria-label': 'Pick lists' }, lists.map((l) => h('li', {}, h('a', { href: `#/pick/${l.id}`, class: 'btn' }, `${l.code} · ${l.quantity - l.picked - l.short} to pick`))))
      : h('p', { class: 'muted' }, 'No open pick lists.'));
  };
  render('Pick lists', body);
  setScan('Scan a pick list', 'DPT-PICK-…');
  await draw();
  return {
    onScan(data) {
      const r = resolve(data);
      if (r.kind === 'pick_list') go(`#/pick/${r.id}`); else show('bad', 'Not a pick list', data);
    },
    onSynced: draw,
  };
};

async function pickList(id) {
  let list = index.pickLists.get(id) || null;
  const localPicked = new Map(); // line id -> picked offline, not yet confirmed by Depot
  let here = null;
  const body = h('div', {});
  const remaining = (l) => l.quantity - l.picked - l.short - (localPicked.get(l.id) || 0);
  async function fetchList() {
    try {
      const r = await sync.api('GET', `/v1/pick-lists/${id}`);
      if (r.status === 200) {
        list = r.body; localPicked.clear();
        await store.putEntity('pick_list', id, list);
        index.pickLists.set(id, list);
      } else if (!list) show('bad', 'Pick list', problemText(r.body));
    } catch { /* offline */ }
  }
  function draw() {
    if (!list) { body.replaceChildren(h('p', {}, 'This pick list is not on this device.')); return; }
    const lines = [...list.lines].sort((a, b) => a.sequence - b.sequence);
    const next = lines.find((l) => remaining(l) > 0);
    const done = lines.reduce((s, l) => s + l.quantity - remaining(l), 0);
    const total = lines.reduce((s, l) => s + l.quantity, 0);
    const parts = [h('div', { class: 'progress', role: 'progressbar', 'aria-label': 'Picked', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done },
      h('span', { style: null, 'data-w': Math.round((100 * done) / Math.max(total, 1)) }))];
    if (next) {
      parts.push(h('div', { class: 'card', id: 'next-pick' },
        h('h2', {}, here === next.location_id ? 'Pick here' : 'Go to bin'),
        h('p', { class: 'big', id: 'next-bin' }, next.location_code),
        kv([['Item', `${next.item_name} (${next.item_code})`], ['Batch', next.batch_code], ['Expiry', next.expiry_date], ['Take', remaining(next)]]),
        h('div', { class: 'row' }, button('Short pick', () => shortPick(next), 'btn danger'))));
    } else parts.push(h('div', { class: 'card' }, h('h2', {}, 'All picked'), h('p', {}, `Take the goods to packing.`)));
    parts.push(h('ul', { class: 'list', 'aria-label': 'Lines' }, lines.map((l) => h('li', { class: remaining(l) > 0 ? '' : 'done' },
      `${l.location_code} · ${l.item_code} · ${l.batch_code || '—'} · ${l.quantity - remaining(l)}/${l.quantity}`))));
    if (shortOf) parts.splice(1, 0, shortForm());
    body.replaceChildren(...parts);
    for (const bar of body.querySelectorAll('[data-w]')) bar.style.width = `${bar.dataset.w}%`;
    setScan(next ? (here === next.location_id ? 'Scan the goods' : `Scan bin ${next.location_code}`) : 'Scan another pick list');
  }
  // A short pick: how many the shelf really holds of what is left on the line.
  let shortOf = null;
  function shortPick(line) {
    shortOf = line;
    draw();
    $('short-found').focus();
  }
  async function recordShort() {
    const line = shortOf;
    const n = parseInt($('short-found').value, 10);
    if (!(n >= 0)) { show('bad', 'Enter a number', 'How many are on the shelf (0 if none)?'); return; }
    shortOf = null;
    const result = await sync.submit('http', { line_id: line.id, found: n }, { method: 'POST', path: `/v1/pick-lists/${id}/short` });
    if (outcome(result, 'Short pick recorded', (b) => `${b.missing} missing${b.added_lines?.length ? `, ${b.added_lines.length} new line(s) to pick` : ''}`) === 'ok') await fetchList();
    draw(); focusScan();
  }
  function shortForm() {
    const form = h('form', { class: 'card', id: 'short-form' },
      h('h2', {}, `Short pick at ${shortOf.location_code}`),
      field('short-found', `How many ${shortOf.item_code} are on the shelf?`, { type: 'number', inputmode: 'numeric', min: 0, value: 0, required: true }),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn danger' }, 'Record short'),
        button('Cancel', () => { shortOf = null; draw(); focusScan(); })));
    form.addEventListener('submit', (e) => { e.preventDefault(); recordShort(); });
    return form;
  }
  render(list ? list.code : `Pick list ${id}`, body);
  draw();
  await fetchList();
  if (list) render(list.code, body);
  draw();
  return {
    async onScan(data) {
      const r = resolve(data);
      if (r.kind === 'pick_list' && r.id !== id) { go(`#/pick/${r.id}`); return; }
      if (!net.online && r.kind === 'item' && r.item && here !== null && list
        && !list.lines.some((l) => l.location_id === here && l.item_id === r.item.id && remaining(l) > 0)) {
        // Offline and certainly wrong: nothing of this item is left to pick in this bin.
        show('bad', 'Wrong item here', `${itemName(r.item)} is not to be picked in this bin (checked on this device, not sent).`);
        return;
      }
      const result = await operate('pick_scan', { pick_list_id: id, scan: data });
      if (result.queued) {
        // Offline: check against the list on this device; Depot checks again when it arrives.
        if (r.kind === 'location') { here = r.location.id; draw(); show('warn', `At ${r.location.code} (offline)`, 'Saved: will be sent when the network is back.'); return; }
        const line = list?.lines.find((l) => l.location_id === here && remaining(l) > 0 && r.item && l.item_id === r.item.id);
        if (!line) { show('warn', 'Saved offline, not checked', 'Depot checks it when the network is back.'); return; }
        const qty = r.pack * (r.gs1?.count || 1);
        localPicked.set(line.id, (localPicked.get(line.id) || 0) + qty);
        draw();
        if (line.batch_code && r.gs1?.batch && r.gs1.batch !== line.batch_code) show('warn', `Batch ${r.gs1.batch} instead of ${line.batch_code}`, 'Saved offline: Depot checks it when the network is back.');
        else show('warn', `${qty} × ${line.item_code} saved offline`, `${remaining(line)} left on this line · will be sent when the network is back`);
        return;
      }
      if (result.status >= 300) { show('bad', 'Refused', problemText(result.body)); return; }
      const s = result.body;
      if (s.outcome === 'location') {
        if (r.kind === 'location') here = r.location.id;
        draw();
        show('ok', `At ${r.location?.code || 'the bin'}`, s.message);
        return;
      }
      if (s.outcome === 'refused') { show('bad', REASONS[s.reason] || 'Refused', s.message || s.reason); return; }
      if (s.line) {
        const i = list.lines.findIndex((l) => l.id === s.line.id);
        if (i >= 0) list.lines[i] = s.line; else list.lines.push(s.line);
        list.picked = list.lines.reduce((a, l) => a + l.picked, 0);
      }
      draw();
      show('ok', s.message || 'Picked', `${s.line_remaining} left on this line · ${s.list_remaining} on the list`);
    },
    // Not while the short-pick form is open: redrawing would take its field away mid-typing.
    async onSynced() { if (shortOf) return; await fetchList(); if (!shortOf) draw(); },
  };
}

// --- count ---
screens.count = async (arg) => {
  if (arg) return countScreen(+arg);
  const body = h('div', {});
  let counts = (await store.get('counts')) || [];
  try {
    const r = await sync.api('GET', '/v1/counts?status=open&limit=100');
    if (r.status === 200) { counts = r.body.items; await store.put('counts', counts); }
    else show('bad', 'Counts', problemText(r.body));
  } catch { /* offline */ }
  body.replaceChildren(counts.length
    ? h('ul', { class: 'list', 'aria-label': 'Open counts' }, counts.map((c) => h('li', {}, h('a', { href: `#/count/${c.id}`, class: 'btn' }, `Count ${c.id}${c.note ? ` · ${c.note}` : ''}`))))
    : h('p', { class: 'muted' }, 'No open counts. An admin or supervisor opens one (POST /v1/counts).'));
  render('Counts', body);
  setScan('');
  return {};
};

async function countScreen(id) {
  let bin = null;
  let last = null;
  const body = h('div', {});
  const draw = () => {
    body.replaceChildren(h('div', { class: 'card' }, kv([['Bin', bin?.code || '—'], ['Last', last]])),
      field('count-qty', 'Packs per scan', { type: 'number', inputmode: 'numeric', min: 1, value: 1 }),
      h('div', { class: 'row' }, button('Close count', closeCount, 'btn danger')));
    setScan(bin ? 'Scan each pack' : 'Scan the bin');
  };
  let closing = false;
  async function closeCount() {
    if (!closing) { closing = true; show('warn', 'Close this count?', 'Press Close count again to post the differences.'); return; }
    closing = false;
    const result = await sync.submit('http', {}, { method: 'POST', path: `/v1/counts/${id}/close` });
    outcome(result, 'Count closed', (b) => `${b.movements.length} difference(s) posted`);
    focusScan();
  }
  render(`Count ${id}`, body);
  draw();
  return {
    async onScan(data) {
      const r = await resolveFresh(data);
      const qty = parseInt($('count-qty')?.value || '1', 10) || 1;
      const opBody = { count_id: id, scan: data };
      if (r.kind !== 'location') opBody.quantity = qty;
      const result = await operate('count_scan', opBody);
      if (r.kind === 'location') bin = r.location;
      if (result.queued) { last = r.item ? `${qty} × ${r.item.code} (offline)` : data; draw(); show('warn', r.kind === 'location' ? `Counting ${r.location.code}` : `${r.item ? r.item.name : data}`, 'Saved offline: will be sent when the network is back.'); return; }
      if (result.status >= 300) { show('bad', 'Refused', problemText(result.body)); return; }
      const s = result.body;
      if (s.outcome === 'location' || r.kind === 'location') { draw(); show('ok', `Counting ${bin?.code || ''}`); return; }
      last = s.line ? `${s.line.counted} counted (${s.line.batch_code || 'no batch'})` : s.outcome;
      draw();
      show('ok', `${r.item ? r.item.name : 'Counted'}: ${s.line?.counted ?? ''}`, s.line?.batch_code ? `batch ${s.line.batch_code}` : null);
    },
  };
}

// --- pack: a parcel for a deal, goods scanned in, label printed ---
screens.pack = () => {
  const st = { deal: null, parcel: null };
  const body = h('div', {});
  const contents = (p) => p.contents.map((c) => `${c.quantity} × ${index.items.get(c.item_id)?.code || `item ${c.item_id}`}`).join(', ') || 'empty';
  const draw = () => {
    const parts = [h('div', { class: 'card' }, kv([['Deal', st.deal ? `DPT-DEAL-${st.deal}` : '—'], ['Parcel', st.parcel ? st.parcel.sscc || st.parcel.code : '—'],
      ['Contents', st.parcel ? contents(st.parcel) : null]]))];
    if (st.parcel) parts.push(h('div', { class: 'row' }, button(st.parcel.shipment_id ? 'Label' : 'Ship & label', label, 'btn primary'), button('New parcel', newParcel)));
    else if (st.deal) parts.push(button('New parcel', newParcel, 'btn primary'));
    body.replaceChildren(...parts);
    setScan(!st.deal ? 'Scan the deal or pick list' : !st.parcel ? 'Scan goods to start a parcel' : 'Scan goods into the parcel');
  };
  async function newParcel() {
    try {
      const r = await sync.api('POST', '/v1/parcels', { deal_id: st.deal, contents: [] }, { key: sync.newId() });
      if (r.status !== 201) { show('bad', 'No parcel', problemText(r.body)); return; }
      st.parcel = r.body; draw(); show('ok', `Parcel ${r.body.sscc || r.body.code}`);
    } catch { show('bad', 'Needs the network', 'A new parcel gets its SSCC from Depot.'); }
    focusScan();
  }
  // The parcel's label as a PDF (GS1 logistic label with its SSCC), handed to the device to
  // print; a shipment's labels go to the warehouse's label printers at dispatch.
  async function label() {
    try {
      if (!st.parcel.shipment_id) {
        // The label carries the ship-to address, so the parcel goes into a shipment first
        // (the customer's preferred shipping address, economy, sender pays: Depot's defaults).
        const s = await sync.api('POST', '/v1/shipments', { deal_id: st.deal, parcel_ids: [st.parcel.id] }, { key: sync.newId() });
        if (s.status !== 201) { show('bad', 'No shipment', problemText(s.body)); return; }
        st.parcel.shipment_id = s.body.id;
        draw();
      }
      const r = await fetch(`/v1/parcels/${st.parcel.id}/label?format=pdf`, { headers: { authorization: `Bearer ${session.token}` } });
      if (!r.ok) { show('bad', 'No label', problemText(await r.json().catch(() => null)) || `${r.status}`); return; }
      const blob = await r.blob();
      const a = h('a', { href: URL.createObjectURL(blob), download: `parcel-${st.parcel.sscc || st.parcel.id}.pdf` });
      document.body.append(a); a.click(); a.remove();
      show('ok', 'Label ready to print', `shipment ${st.parcel.shipment_id} · ${Math.ceil(blob.size / 1024)} kB PDF`);
    } catch { show('bad', 'Needs the network', 'The label is drawn by Depot.'); }
    focusScan();
  }
  render('Pack', body);
  draw();
  return {
    async onScan(data) {
      const r = await resolveFresh(data);
      if (r.kind === 'deal') { st.deal = r.id; st.parcel = null; draw(); show('ok', `Packing deal ${r.id}`); return; }
      if (r.kind === 'pick_list') {
        const l = index.pickLists.get(r.id);
        const deal = l?.lines?.[0]?.deal_id;
        if (!deal) { show('bad', 'Pick list not on this device'); return; }
        st.deal = deal; st.parcel = null; draw(); show('ok', `Packing deal ${deal}`); return;
      }
      if (!st.deal) { show('bad', 'Scan the deal first'); return; }
      // Goods scanned with no parcel open start one (the scanner's trigger alone packs).
      if (!st.parcel) await newParcel();
      if (!st.parcel) return;
      const result = await operate('pack_scan', { parcel_id: st.parcel.id, contents: [{ scan: data, quantity: 1 }] });
      if (result.status && result.status < 300) st.parcel = result.body;
      const name = r.item ? r.item.name : data;
      outcome(result, `Packed ${name}`, (b) => `${b.contents.reduce((a, c) => a + c.quantity, 0)} in parcel ${b.sscc || b.code}`);
      draw();
    },
  };
};

// --- deal: availability and fulfilment in one screen (reps) ---
screens.deal = async (arg) => {
  const body = h('div', {});
  render('Deal', body);
  setScan('Scan a deal', 'DPT-DEAL-…');
  async function open(id) {
    let f = null; let deal = null;
    try {
      const [a, b] = await Promise.all([sync.api('GET', `/v1/deals/${id}/fulfilment`), sync.api('GET', `/v1/deals/${id}`)]);
      if (a.status !== 200) { show('bad', `Deal ${id}`, problemText(a.body)); return; }
      f = a.body; deal = b.status === 200 ? b.body : null;
      await store.put(`deal:${id}`, { f, deal, at: new Date().toISOString() });
    } catch {
      const kept = await store.get(`deal:${id}`);
      if (!kept) { show('bad', 'Offline', 'This deal was not opened on this device before.'); return; }
      ({ f, deal } = kept);
      show('warn', 'Offline', `As of ${kept.at}`);
    }
    $('title').textContent = deal ? deal.title : `Deal ${id}`;
    const lines = f.lines.map((l) => h('div', { class: 'card' },
      h('h2', {}, `${l.item_name} (${l.item_code})`),
      kv([['Requested', l.requested], ['Reserved', l.reserved], ['Picked', l.picked], ['Shipped', l.shipped], ['Delivered', l.delivered],
        ['In production', l.in_production.map((p) => `${p.quantity ?? ''} ${p.expected_date || p.due_date || ''}`.trim()).join(', ') || null],
        ['On order', l.on_order.map((p) => `${p.quantity ?? ''} ${p.expected_date || ''}`.trim()).join(', ') || null],
        ['From', [...new Set(l.reservations.map((r) => `${r.location_code}${r.batch_code ? ` (${r.batch_code})` : ''}`))].join(', ') || null]])));
    const ships = f.shipments.map((s) => h('li', {}, `${s.carrier} · ${s.status}${s.tracking_number ? ` · ${s.tracking_number}` : ''}`));
    body.replaceChildren(
      h('div', { class: 'card' }, kv([['Deal', `DPT-DEAL-${id}`], ['Stage', f.stage], ['Complete', f.complete ? 'yes' : 'no'], ['Customer', deal?.customer_name]])),
      ...lines,
      h('div', { class: 'card' }, h('h2', {}, 'Shipments'), ships.length ? h('ul', { class: 'list' }, ships) : h('p', { class: 'muted' }, 'None yet.')));
  }
  if (arg) await open(+arg);
  return {
    async onScan(data) {
      const r = resolve(data);
      if (r.kind === 'deal') { await open(r.id); show('ok', `Deal ${r.id}`); }
      else if (/^\d+$/.test(data)) { await open(+data); }
      else show('bad', 'Not a deal', data);
    },
  };
};

// --- pairing (admins): register a handheld and show its token as a code to scan ---
screens.devices = () => {
  const out = h('div', {});
  const form = h('form', { class: 'card' },
    h('h2', {}, 'Register a handheld'),
    field('device-name', 'Name of the handheld', { required: true, autocomplete: 'off' }),
    h('div', { class: 'field' }, h('label', { for: 'device-profile' }, 'Its scanner profile'),
      h('select', { id: 'device-profile' }, profiles.map((p) => h('option', { value: p.name }, p.title || p.name)))),
    h('button', { type: 'submit', class: 'btn primary' }, 'Register and show its code'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('device-name').value.trim();
    if (!name) { show('bad', 'Name the handheld'); return; }
    try {
      const r = await sync.api('POST', '/v1/devices', { name, kind: 'scanner', profile: $('device-profile').value || 'generic-wedge' }, { key: sync.newId() });
      if (r.status !== 201) { show('bad', 'Not registered', problemText(r.body)); return; }
      show('ok', `${name} registered`, 'Scan the code with Depot Floor on the handheld (sign-in screen). It is shown only now.');
      out.replaceChildren(h('div', { class: 'card qr' }, qrSvg(r.body.token),
        h('p', {}, 'Or type it: ', h('code', { id: 'device-token' }, r.body.token)),
        button('Done: hide the code', () => { out.replaceChildren(); clear(); })));
    } catch { show('bad', 'Needs the network'); }
  });
  render('Pair a device', form, out);
  setScan('');
  return {};
};

// --- problems: what Depot kept of this person's operations that failed ---
screens.problems = async () => {
  await refreshProblems();
  render('Problems', problems.length
    ? h('ul', { class: 'list', 'aria-label': 'Problems' }, problems.map((p) => h('li', {},
      h('strong', {}, `${p.type} · ${p.status}`), h('br'), problemText(p.problem), h('br'),
      h('span', { class: 'muted' }, `sent ${p.device_at || p.received_at} · a supervisor resolves it`))))
    : h('p', {}, net.online ? 'No problems.' : 'Offline: problems show once the network is back.'));
  setScan('');
  return {};
};

// --- start ---
async function start() {
  showNet();
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js', { scope: './' }).catch((e) => console.warn('service worker', e));
  profiles = (await store.get('profiles')) || [];
  const chosen = await store.get('profile');
  profile = profiles.find((p) => p.name === chosen) || null;
  await index.load();
  const n = await store.pendingCount();
  $('outbox').textContent = String(n); $('outbox').dataset.count = String(n);
  if (await sync.restore()) {
    sync.startFeed();
    loadProfiles();
    sync.flush();
    refreshProblems();
  }
  window.addEventListener('online', () => sync.flush());
  await route();
  document.body.dataset.ready = 'true';
}

start();
