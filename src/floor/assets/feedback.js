// What the person holding the scanner sees, hears and feels: a large colour-coded message, a
// high short beep and one buzz for an accepted scan, a low double beep and a long buzz for a
// refusal. Also measures each scan from the Enter key to the colour (window.floorTimings).

let audio = null;
let started = null;
export const timings = [];
window.floorTimings = timings;

export function unlockAudio() {
  if (audio) return;
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (Ctx) { try { audio = new Ctx(); } catch { audio = null; } }
}

function tone(freq, start, length) {
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = freq;
  osc.type = 'square';
  gain.gain.setValueAtTime(0.15, audio.currentTime + start);
  gain.gain.setValueAtTime(0, audio.currentTime + start + length);
  osc.connect(gain).connect(audio.destination);
  osc.start(audio.currentTime + start);
  osc.stop(audio.currentTime + start + length + 0.02);
}

function signal(kind) {
  try {
    if (audio) {
      if (audio.state === 'suspended') audio.resume();
      if (kind === 'ok') tone(1760, 0, 0.08);
      else if (kind === 'bad') { tone(220, 0, 0.18); tone(220, 0.25, 0.18); }
      else if (kind === 'warn') tone(880, 0, 0.12);
    }
    if (navigator.vibrate) {
      if (kind === 'ok') navigator.vibrate(40);
      else if (kind === 'bad') navigator.vibrate([250, 100, 250]);
      else if (kind === 'warn') navigator.vibrate([80, 60, 80]);
    }
  } catch { /* no sound or vibration on this device */ }
}

export function scanStarted() { started = performance.now(); }

// kind: ok | bad | warn | info
export function show(kind, text, detail) {
  const el = document.getElementById('msg');
  el.hidden = false;
  el.dataset.kind = kind;
  el.replaceChildren(document.createTextNode(text));
  if (detail) {
    const small = document.createElement('small');
    small.textContent = detail;
    el.append(small);
  }
  if (kind !== 'info') signal(kind);
  if (started !== null) {
    const t0 = started;
    started = null;
    requestAnimationFrame(() => timings.push(performance.now() - t0));
  }
}

export function clear() {
  const el = document.getElementById('msg');
  el.hidden = true;
  el.replaceChildren();
  delete el.dataset.kind;
}
