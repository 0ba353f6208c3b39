// Which published version of the app this page runs, and whether a newer one was published since.
// A page opened before a deploy keeps running its own version (its files stay a week), so an
// attendee in the middle of rating is never interrupted; it takes the new version at its next
// change of page, which then loads whole instead of being drawn in place. A room screen, which
// nobody moves on, takes it at a quiet moment of its own (takeNewerVersion).
const BUILD = /\/app\/b\/([0-9a-f]+)\//;
// How often an open page asks: a phone in a pocket asks again when it is looked at.
const CHECK_EVERY_MS = 10 * 60 * 1000;

// null when the app is served from web/ as it is (the local runtime): there is nothing to ask.
const running = BUILD.exec(import.meta.url)?.[1] ?? null;
let newer = false;
let checkedAt = -Infinity;

export function newerVersionPublished() {
  return newer;
}

// The version the entry page names now (it is never cached: no-cache), or null when it did not
// answer with one; throws without a network.
async function published() {
  const answer = await fetch("/app/", { cache: "no-cache" });
  return answer.ok ? BUILD.exec(await answer.text())?.[1] ?? null : null;
}

async function check() {
  if (newer || document.visibilityState !== "visible") return;
  if (Date.now() - checkedAt < CHECK_EVERY_MS) return;
  checkedAt = Date.now();
  try {
    const named = await published();
    if (named && named !== running) newer = true;
  } catch {
    // Offline for now: the next look asks again.
    checkedAt = -Infinity;
  }
}

// Load the newer version now, for a page nobody reloads (a room screen) at a moment it chooses:
// only once the entry page answers and still names a version other than this page's (a publish
// taken back since is not loaded again), so that a screen never trades its page for the
// browser's error page. Whether it went.
export async function takeNewerVersion() {
  if (!newer || !navigator.onLine) return false;
  try {
    const named = await published();
    if (!named) return false;
    if (named === running) {
      newer = false; // taken back: nothing to load, and nothing more to ask until the next check
      return false;
    }
  } catch {
    return false;
  }
  location.reload();
  return true;
}

export function watchVersion() {
  if (running === null) return;
  document.addEventListener("visibilitychange", check);
  setInterval(check, CHECK_EVERY_MS);
}
