// The app's router: one entry page for every /app/ path, a module per page.
import { h, fill, mayLeave } from "./dom.js";
import { programmePage } from "./pages/programme.js";
import { talkPage } from "./pages/talk.js";
import { screenPage } from "./pages/screen.js";
import { leaderboardPage } from "./pages/leaderboard.js";
import { newerVersionPublished, watchVersion } from "./version.js";
import { watchKept } from "./outbox.js";

const ROUTES = [
  [/^\/app\/?$/, programmePage],
  [/^\/app\/talks\/([^/]+)\/screen\/?$/, screenPage],
  [/^\/app\/talks\/([^/]+)\/?$/, talkPage],
  [/^\/app\/leaderboard\/?$/, leaderboardPage],
  [/^\/app\/admin\/?$/, organisersPage],
  [/^\/app\/admin\/qr-codes\/?$/, qrCodesPage],
];

// The organisers' page is fetched when it is opened: an attendee's phone never loads it.
function organisersPage(main) {
  let stop = null;
  let left = false;
  import("./pages/admin.js")
    .then(({ adminPage }) => {
      if (!left) stop = adminPage(main);
    })
    .catch(() => {
      if (left) return;
      document.title = "Organisers · talkrate";
      fill(main,
        h("h1", {}, "Organisers"),
        h("p", { role: "alert" }, "The organisers' page could not be loaded: check the connection and reload."));
    });
  return () => {
    left = true;
    if (stop) stop();
  };
}

// The organisers' printable sheet of every talk's QR code, fetched when opened too.
function qrCodesPage(main) {
  let stop = null;
  let left = false;
  import("./pages/qr-sheet.js")
    .then(({ qrSheetPage }) => {
      if (!left) stop = qrSheetPage(main);
    })
    .catch(() => {
      if (!left) fill(main, h("h1", {}, "QR codes"), h("p", { role: "alert" }, "This page could not be loaded: check the connection and reload."));
    });
  return () => {
    left = true;
    if (stop) stop();
  };
}

let cleanup = null;
let shown = null; // the path and query of the page drawn (a page may replace its query)
// Back puts the attendee where they were (see `restore`), not where the browser guesses before
// the page has drawn its list.
if ("scrollRestoration" in history) history.scrollRestoration = "manual";

function notFound(main) {
  document.title = "Not found · talkrate";
  fill(main,
    h("h1", {}, "This page does not exist"),
    h("p", {}, h("a", { href: "/app/" }, "See the programme")));
}

function render(focus, back = null) {
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById("main");
  const path = location.pathname;
  shown = path + location.search;
  document.body.classList.remove("screen-mode", "wide-page", "board-screen");
  for (const [pattern, page] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    let params;
    try {
      params = match.slice(1).map(decodeURIComponent);
    } catch {
      break;
    }
    fill(main);
    const stop = page(main, ...params);
    const unrestore = back ? restore(main, back) : null;
    cleanup = () => {
      if (unrestore) unrestore();
      if (stop) stop();
    };
    markCurrentLink(path);
    if (focus && !back) main.focus({ preventScroll: false });
    return;
  }
  notFound(main);
}

function markCurrentLink(path) {
  for (const link of document.querySelectorAll("header nav a")) {
    const target = new URL(link.href).pathname;
    const current = target === "/app/" ? path === "/app/" || path === "/app" : path.startsWith(target);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Back to a page: its scroll position and the link that was followed from it, once the page has
// drawn far enough (its list may come after a read); given up after 5 s or when the attendee
// scrolls or types meanwhile. Returns what stops it.
function restore(main, { scroll = 0, from = null }) {
  const link = () => from && [...main.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === from);
  const tall = () => document.documentElement.scrollHeight - window.innerHeight >= scroll;
  let done = false;
  const stop = () => {
    done = true;
    observer.disconnect();
    clearTimeout(timer);
    for (const type of ["wheel", "touchmove", "keydown"]) removeEventListener(type, stop);
  };
  const attempt = () => {
    const target = link();
    if (done || !(target || (!from && tall()))) return;
    stop();
    window.scrollTo(0, scroll);
    (target || main).focus({ preventScroll: true });
  };
  const observer = new MutationObserver(attempt);
  observer.observe(main, { childList: true, subtree: true });
  const timer = setTimeout(() => {
    if (!done) main.focus({ preventScroll: true });
    stop();
  }, 5000);
  for (const type of ["wheel", "touchmove", "keydown"]) addEventListener(type, stop);
  attempt();
  return stop;
}

// Links inside the app change the page without reloading it; the page left keeps where it was
// scrolled to and which link was followed, for Back.
export function navigate(href, from = null) {
  // (a page holding what would be lost, the organisers' talk form, asks first; kept, it stays)
  if (!mayLeave()) return;
  // A newer version was published since this page loaded: the next page is loaded whole, in it
  // (offline, it is drawn in place as before: a load would show the browser's error page).
  if (newerVersionPublished() && navigator.onLine) {
    location.assign(href);
    return;
  }
  history.replaceState({ ...history.state, scroll: window.scrollY, from }, "");
  history.pushState(null, "", href);
  render(true);
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  shown = location.pathname + location.search;
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
  // A link within the page ("Skip to content") is the browser's: focus and scroll, nothing read.
  if (url.hash && url.pathname + url.search === location.pathname + location.search) return;
  event.preventDefault();
  navigate(url.pathname + url.search, link.getAttribute("href"));
});

// A change of #fragment alone (Skip to content, and Back from it) leaves the page as it is.
window.addEventListener("popstate", () => {
  if (location.pathname + location.search === shown) return;
  // Back (a phone's back gesture) from a page that keeps what would be lost: the address goes
  // back to it, and it stays as it is.
  if (!mayLeave()) {
    history.pushState(null, "", shown);
    return;
  }
  if (newerVersionPublished() && navigator.onLine) {
    // Loaded whole in the newer version, and put back where the attendee was, as drawn in place.
    history.replaceState({ ...history.state, loadedBack: true }, "");
    location.reload();
  } else render(true, history.state || {});
});
// A Back that loaded the page whole (above) restores its place once; a later reload does not.
const loadedBack = history.state && history.state.loadedBack ? history.state : null;
if (loadedBack) history.replaceState({ ...loadedBack, loadedBack: undefined }, "");
render(false, loadedBack);
watchVersion();
watchKept(); // after the page: a talk page claims its own talk's rating first
// The service worker (web/sw.js) keeps the app's files, so that its pages open without a network
// next time; registered once the page has loaded, not competing with its own files. (A page
// served over plain HTTP from another host than this computer has none: pages open online only.)
if ("serviceWorker" in navigator) {
  addEventListener("load", () => navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {}));
}
