// What a screen reader hears of figures that change live: a polite status region, written now
// and then rather than at every change (a busy room changes the count several times a second,
// and each write would be read out, queued behind the last). The first figures are not said:
// they are read with the page. A change is said at once after a quiet spell; changes that
// follow within `everyMs` are said together, once, when it has passed, and only if what would
// be said differs from what was said last (or, given a key, what it says of: see `figures`).
// While the figures cannot move (the browser offline, the counts unreadable or being recounted:
// see `status`), the badge's words are said before them as that begins, and the figures alone
// as it ends.
import { h, setText } from "./dom.js";

const HELD = new Set(["offline", "paused", "recounting"]);

export function liveAnnouncer(everyMs) {
  const node = h("p", { class: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true", "data-testid": "announcement" });
  let figures = null;
  let key = null; // what the figures say of, compared in place of their words
  let held = ""; // the badge's words while the figures cannot move (status): said before them
  let said = null; // the held words and the key of what was said last
  let quiet = false; // the held words were taken with the first figures, not said (see saying)
  let saidAt = -Infinity;
  let timer = null;
  const saying = () => `${held}${key}`;
  const flush = () => {
    timer = null;
    if (saying() === said) return;
    said = saying();
    saidAt = performance.now();
    // (words as parts: text and elements, a title in its own language)
    if (Array.isArray(figures)) node.replaceChildren(held, ...figures);
    else setText(node, `${held}${figures}`);
  };
  const changed = () => {
    if (figures === null) return;
    if (said === null) {
      said = saying();
      quiet = held !== "";
      return;
    }
    if (timer === null) timer = setTimeout(flush, Math.max(0, saidAt + everyMs - performance.now()));
  };
  return {
    node,
    // The figures as shown, in words ("12 ratings, average 4.25"; or an array of text and
    // elements, e.g. a title marked with its language); `about`, when the words may
    // change without news (the leaderboard's titles, which an organiser may edit): what makes
    // them news (the order of the talks), said only when it differs from what was said.
    figures(words, about = words) {
      figures = words;
      key = about;
      changed();
    },
    // The live state: only losing the network and having it back are said (a reconnection
    // that lasts a second is not news), the counts found unreadable ("paused": nothing shown
    // moves) and readable again, and their recount ("recounting", seconds: no rating moves
    // them meanwhile) begun and done; not each read again meanwhile, whose state is the same.
    status(state, words) {
      const next = HELD.has(state) ? `${words}. ` : "";
      if (next === held) return;
      held = next;
      quiet = false;
      changed();
    },
    // What is shown now is of another thing (the attendee chose it): its first figures are
    // read with it, not said; or, with `say`, said at once (a choice made in a menu leaves a
    // screen reader on the menu: the leaderboard's track said only "Loading…", then nothing).
    reset({ say = false } = {}) {
      clearTimeout(timer);
      timer = null;
      figures = key = null;
      quiet = false;
      said = say ? "" : null;
      if (say) saidAt = -Infinity;
      setText(node, "");
    },
    // Whether the live state held now is the announcer's to say (there are figures, read or
    // said, to say it with, and it was not taken silently with the first of them): else the
    // page says it (its first read, or what was shown reset; a board opened paused).
    saying() {
      return figures !== null && said !== null && !quiet;
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
