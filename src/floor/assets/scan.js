// Scans: what a keyboard wedge typed, made into the data Depot reads (the device profile's GS
// stand-in turned back into GS, terminators stripped), a small GS1 reader for offline answers,
// and the camera (BarcodeDetector where the browser has it, otherwise a frame sent to
// POST /v1/scans/decode).

import { index, api } from './sync.js';

export const GS = '\u001d';

// `profile` is an entry of GET /v1/scan-profiles ({scan: {gs_substitutes, strip_suffix, strip_prefix}}).
export function normalise(raw, profile) {
  let data = raw;
  const p = profile?.scan;
  if (p) {
    for (const suffix of p.strip_suffix || []) if (suffix && data.endsWith(suffix)) data = data.slice(0, -suffix.length);
    if (p.strip_prefix && data.startsWith(p.strip_prefix)) data = data.slice(p.strip_prefix.length);
    for (const sub of p.gs_substitutes || []) if (sub) data = data.split(sub).join(GS);
  }
  return data.replace(/[\r\n\t]+$/, '');
}

// GS1 application identifiers the floor needs offline: fixed lengths, others end at GS.
const FIXED = { '00': 18, '01': 14, '02': 14, '11': 6, '12': 6, '13': 6, '15': 6, '16': 6, '17': 6, '20': 2 };
const VARIABLE = { '10': 20, '21': 20, '22': 20, '30': 8, '37': 8, '240': 30, '241': 30, '250': 30, '400': 30, '90': 30, '91': 90, '92': 90 };

function dateOf(yymmdd) {
  const yy = +yymmdd.slice(0, 2); let dd = yymmdd.slice(4, 6);
  const year = 2000 + yy + (yy >= 51 ? -100 : 0);
  if (dd === '00') dd = String(new Date(Date.UTC(year, +yymmdd.slice(2, 4), 0)).getUTCDate());
  return `${year}-${yymmdd.slice(2, 4)}-${dd.padStart(2, '0')}`;
}

export function parseGs1(input) {
  let s = input;
  let gs1 = false;
  const m = /^\](C1|e0|d2|Q3|J1)/.exec(s);
  if (m) { s = s.slice(3); gs1 = true; }
  else if (/^\][A-Za-z]\d/.test(s)) s = s.slice(3);
  if (s.startsWith(GS)) { s = s.slice(1); gs1 = true; }
  if (s.startsWith('(')) {
    const out = {};
    const re = /\((\d{2,4})\)([^(]*)/g;
    let part;
    while ((part = re.exec(s))) out[part[1]] = part[2];
    return Object.keys(out).length ? finish(out) : null;
  }
  if (!/^\d{2}/.test(s)) return null;
  const out = {};
  let i = 0;
  while (i < s.length) {
    if (s[i] === GS) { i++; continue; }
    let ai = null;
    for (const len of [2, 3, 4]) {
      const a = s.slice(i, i + len);
      if (FIXED[a] !== undefined || VARIABLE[a] !== undefined) { ai = a; break; }
      if (len === 4 && /^3[1-6]\d\d$/.test(a)) { ai = a; break; }
    }
    if (!ai) return gs1 ? finish(out) : null;
    i += ai.length;
    let len = FIXED[ai];
    if (/^3[1-6]\d\d$/.test(ai)) len = 6;
    if (len !== undefined) { out[ai] = s.slice(i, i + len); i += len; }
    else { const end = s.indexOf(GS, i); const stop = end < 0 ? s.length : end; out[ai] = s.slice(i, stop); i = stop; }
  }
  if (!gs1 && !out['01'] && !out['00']) return null;
  return finish(out);
}

function finish(ai) {
  return {
    gtin: ai['01'] || ai['02'] || null, sscc: ai['00'] || null, batch: ai['10'] || null, serial: ai['21'] || null,
    expiry: ai['17'] ? dateOf(ai['17']) : null, best_before: ai['15'] ? dateOf(ai['15']) : null,
    count: ai['37'] ? +ai['37'] : ai['30'] ? +ai['30'] : null,
  };
}

// What a scan names, from the mirrored master data: an item (with its pack quantity), a bin,
// a pick list or a deal by Depot's own code, or nothing.
export function resolve(data) {
  const upper = data.trim().toUpperCase();
  let m = /^DPT-PICK-(\d+)$/.exec(upper);
  if (m) return { kind: 'pick_list', id: +m[1] };
  m = /^DPT-DEAL-(\d+)$/.exec(upper);
  if (m) return { kind: 'deal', id: +m[1] };
  const bin = index.bins.get(upper);
  if (bin) return { kind: 'location', location: bin };
  const gs1 = parseGs1(data);
  let gtin = gs1?.gtin;
  if (!gtin && /^\d{8}$|^\d{12,14}$/.test(upper)) gtin = upper.padStart(14, '0');
  if (gs1?.sscc) return { kind: 'sscc', sscc: gs1.sscc, gs1 };
  if (gtin) {
    const hit = index.gtins.get(gtin.padStart(14, '0'));
    const item = hit && index.items.get(hit.item_id);
    return { kind: 'item', gtin, gs1, item: item || null, pack: hit ? hit.quantity : 1 };
  }
  const alias = index.aliases.get(upper);
  if (alias) {
    const item = index.items.get(alias.item_id);
    if (item) return { kind: 'item', item, pack: alias.quantity || 1, gs1: null };
  }
  return { kind: 'unknown' };
}

// The camera: frames go to BarcodeDetector, or (without it) one a second to the server.
let stream = null;
let timer = null;

export async function startCamera(video, onCode, onError) {
  stopCamera(video);
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) { onError(`Camera not available: ${e.message || e}`); return false; }
  video.srcObject = stream;
  await video.play().catch(() => {});
  let last = '';
  // BarcodeDetector only where the platform really reads codes (it can exist with no formats).
  let detector = null;
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.length) detector = new window.BarcodeDetector({ formats });
    } catch { detector = null; }
  }
  const canvas = document.createElement('canvas');
  const tick = async () => {
    if (!stream) return;
    try {
      let text = null;
      if (detector) {
        try {
          const codes = await detector.detect(video);
          if (codes.length) text = codes[0].rawValue;
        } catch { detector = null; } // not supported after all: the server reads the frames
      } else if (video.videoWidth) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext('2d').drawImage(video, 0, 0);
        const blob = await new Promise((r) => canvas.toBlob(r, 'image/jpeg', 0.85));
        const r = await api('POST', '/v1/scans/decode', undefined, { raw: { body: blob, type: 'image/jpeg' } });
        if (r.status === 200 && r.body.codes.length) {
          const c = r.body.codes[0];
          text = c.scan?.data || c.text;
        }
      }
      if (text && text !== last) { last = text; onCode(text); }
    } catch (e) { onError(String(e.message || e)); }
    timer = setTimeout(tick, detector ? 250 : 1000);
  };
  tick();
  return true;
}

export function stopCamera(video) {
  clearTimeout(timer);
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  if (video) video.srcObject = null;
}
