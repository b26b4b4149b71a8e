// Depot Floor's service worker: keeps the app shell so the app starts without a network.
// API requests are not touched: they reach Depot or fail, and the app's outbox keeps the work.
// The cache name carries a hash of every asset (filled in by Depot when it serves this file),
// so a new build replaces the whole shell at once.

const CACHE = 'floor-__FLOOR_VERSION__';
const SHELL = [
  './', 'index.html', 'app.css', 'app.js', 'store.js', 'sync.js', 'scan.js', 'feedback.js', 'qr.js',
  'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((f) => new Request(f, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('floor-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith('/floor/') && url.pathname !== '/floor') return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const key = event.request.mode === 'navigate' ? new URL('index.html', self.location).href : event.request;
    const hit = await cache.match(key, { ignoreSearch: true });
    if (hit) return hit;
    try {
      return await fetch(event.request);
    } catch (e) {
      return new Response('Depot Floor is offline and this file was not kept.', {
        status: 503, headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    }
  })());
});
