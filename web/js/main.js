// The app's router: one entry page for every /app/ path, a module per page.
import { h, fill } from "./dom.js";
import { programmePage } from "./pages/programme.js";
import { talkPage } from "./pages/talk.js";
import { screenPage } from "./pages/screen.js";
import { leaderboardPage } from "./pages/leaderboard.js";
import { adminPage } from "./pages/admin.js";

const ROUTES = [
  [/^\/app\/?$/, programmePage],
  [/^\/app\/talks\/([^/]+)\/screen\/?$/, screenPage],
  [/^\/app\/talks\/([^/]+)\/?$/, talkPage],
  [/^\/app\/leaderboard\/?$/, leaderboardPage],
  [/^\/app\/admin\/?$/, adminPage],
];

let cleanup = null;

function notFound(main) {
  document.title = "Not found · talkrate";
  fill(main,
    h("h1", {}, "This page does not exist"),
    h("p", {}, h("a", { href: "/app/" }, "See the programme")));
}

function render(focus) {
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById("main");
  const path = location.pathname;
  document.body.classList.remove("screen-mode");
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
    cleanup = page(main, ...params) || null;
    markCurrentLink(path);
    if (focus) main.focus({ preventScroll: false });
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

// Links inside the app change the page without reloading it.
export function navigate(href) {
  history.pushState(null, "", href);
  render(true);
  window.scrollTo(0, 0);
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", () => render(true));
render(false);
