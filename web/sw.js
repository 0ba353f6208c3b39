// The app's service worker (scope /app/): a page of the app opens without a network once the
// app was loaded on the phone (a talk's QR code scanned while the hall's Wi-Fi is down, a reload
// in a dead spot), where the browser showed its own error page.
// It keeps the app's shell (the entry page and every file it loads) in a cache named by the
// app's version. A page is asked of the network first, the kept entry page shown when none
// answers within NETWORK_MS; the shell's files come from the cache. Nothing else is touched:
// the API's answers and /app/config.json always go to the network, so the pages say themselves
// when they are offline and what they show was read when (a count from a cache would read as
// fresh).
// VERSION, PREFIX and SHELL are written as the file is served, from the app's files
// (talkrate_local.web_assets.service_worker): a new version is a new worker, which the browser
// installs at its next check (each page load), and which takes over at once.
const VERSION = "source";
const PREFIX = "/app/";
const SHELL = ["/app/"];

const CACHE = `talkrate-app-${VERSION}`;
const OURS = "talkrate-app-";
const ENTRY = "/app/";
// How long a page load waits for the network before the kept page is shown: the entry page is
// 2 KB, answered within a second on a working phone network (a few round trips); past 3 s the
// network is the trouble, and the kept page (the same files) draws at once while its own reads
// try again and say so. Longer, a phone in a dead spot showed a blank screen that long.
const NETWORK_MS = 3000;
// Files under a version's own prefix (/app/b/<build>/, as published) never change: the cache
// first. The app served from web/ as written (make run) keeps its names from one edit to the
// next: the network first there too, the cache when it does not answer.
const VERSIONED = PREFIX !== "/app/";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // Asked past the browser's HTTP cache: the files of this version, not copies of another.
    const answers = await Promise.all(SHELL.map((url) => fetch(url, { cache: "no-cache" })));
    for (const answer of answers) if (!answer.ok) throw new Error(`${answer.url}: ${answer.status}`);
    // An entry page that names another version (a publish under way) is not this version's
    // shell: the install fails, and the browser tries again at its next check.
    const entry = answers[SHELL.indexOf(ENTRY)];
    if (VERSIONED && !(await entry.clone().text()).includes(PREFIX)) throw new Error("the entry page names another version");
    await Promise.all(SHELL.map((url, i) => cache.put(url, answers[i])));
    // A new version takes over at once: pages already open keep the modules they run (a
    // published version's files stay a week), and their next load is the new version's.
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name.startsWith(OURS) && name !== CACHE).map((name) => caches.delete(name)));
    if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
    await self.clients.claim();
  })());
});

// A page of the app: what the CDN answers with the entry page (a path under /app/talks/, or whose
// last segment has no dot).
function isPage(url) {
  if (!url.pathname.startsWith("/app/")) return false;
  const last = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  return url.pathname.startsWith("/app/talks/") || !last.includes(".");
}

// One of this version's files: under its prefix, with an ending, and not a document written
// from the stack (config.json) or this worker.
function isFile(url) {
  if (!url.pathname.startsWith(PREFIX) || isPage(url)) return false;
  return !["/app/config.json", "/app/sw.js"].includes(url.pathname);
}

// `answer` (a promise of the network's answer) if it comes within NETWORK_MS with a status
// that is not the CDN's failure, else the kept copy of `key` once either is known; the
// network's answer when nothing is kept.
async function networkFirst(answer, key) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), NETWORK_MS); });
  const network = answer.then((got) => (got && got.status < 500 ? got : null), () => null);
  const got = await Promise.race([network, late]);
  clearTimeout(timer);
  if (got) return got;
  const kept = await caches.match(key, { cacheName: CACHE });
  if (kept) return kept;
  return answer;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && isPage(url)) {
    const answer = Promise.resolve(event.preloadResponse).then((preloaded) => preloaded || fetch(request));
    event.waitUntil(answer.catch(() => null));
    event.respondWith(networkFirst(answer, ENTRY));
    return;
  }
  if (!isFile(url)) return; // the API, config.json: the network's, never kept
  event.respondWith((async () => {
    const key = url.pathname;
    const fromNetwork = () => fetch(request).then((got) => {
      // (kept as fetched too: the organisers' page, loaded only when opened; a full storage
      // keeps nothing more, and the page still has its file)
      if (got.ok) {
        const copy = got.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)).catch(() => {}));
      }
      return got;
    });
    if (!VERSIONED) return networkFirst(fromNetwork(), key);
    return (await caches.match(key, { cacheName: CACHE })) || fromNetwork();
  })());
});
