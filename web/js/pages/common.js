// Pieces several pages share.
import { h, setText, refill, plural, formatCount, formatZoned, debounce, lineDirection } from "../dom.js";
import { gatewayBusy, countsUnreadable, serviceNow } from "../api.js";

// A small status line saying how fresh the figures are: "Connecting…" until the page was first
// live, "Reconnecting…" once it lost that. `announcer` (announce.js), if given, hears each state.
// While the page's last read found the counts unreadable (`unreadable(true)`: the service's
// store of them does not answer), a live or polling page says "Paused…" instead: its figures
// do not move, whatever its connection does, until a read finds them again. While it found
// them being recounted (`recounting(true)`: seconds), it says "Recounting…": no rating moves
// them until the recount is done.
export function liveBadge(announcer = null) {
  const texts = { live: "Live", connecting: "Connecting…", polling: "Updating every few seconds", offline: "Offline: these figures may be out of date", paused: "Paused: the counts cannot be read just now", recounting: "Recounting: the counts are back in a few seconds" };
  // A page opened without a network (drawn in place from one read before) says so from the
  // start: its watch, and so the badge's next word, waits for the page's first read.
  const first = navigator.onLine ? "connecting" : "offline";
  const node = h("p", { class: "live-badge", "data-state": first }, texts[first]);
  if (announcer) announcer.status(first, texts[first]);
  // A page without an announcer of its figures (the programme, the organisers' list) says the
  // network's loss and return in a region of the badge's own, the other states being the
  // badge's to show: a screen reader would otherwise go on reading counts that have stopped.
  // The counts found readable again after "Paused" are said there too ("The counts can be read
  // again."), as "Back online." is; their pause is not: the page's notice of the counts (a
  // status line: countsNotice) says it, and said twice it was heard twice.
  const said = announcer ? null : h("p", { class: "sr-only", role: "status", "data-testid": "live-said" });
  let offline = first === "offline";
  let pausedSaid = false; // the last state said of the counts was their pause
  const sayChanges = (heard) => {
    if (!said) return;
    const words = [];
    if ((watched === "offline") !== offline && watched !== "connecting") {
      offline = watched === "offline";
      words.push(offline ? `${texts.offline}.` : "Back online.");
    }
    if ((heard === "paused") !== pausedSaid && heard !== "offline" && heard !== "connecting") {
      pausedSaid = heard === "paused";
      // (emptied as the pause begins, silently: the next return is said again, not the same words)
      words.push(pausedSaid ? "" : "The counts can be read again.");
    }
    if (words.length) setText(said, words.filter(Boolean).join(" "));
  };
  let wasLive = false;
  let watched = first; // the watch's state
  let paused = false;
  let recounting = false;
  const draw = () => {
    const held = paused ? "paused" : recounting ? "recounting" : null;
    const state = held && (watched === "live" || watched === "polling") ? held : watched;
    node.dataset.state = state;
    setText(node, state === "connecting" && wasLive ? "Reconnecting…" : texts[state] || state);
    // What a screen reader is told: "Paused" (or "Recounting") through a reconnection too (the
    // counts are as unreadable: told "Reconnecting…", it heard their return, then their pause
    // again), and from the page's first read (a board opened paused is read so with the page,
    // not told it).
    const heard = held && watched === "connecting" ? held : state;
    if (announcer) announcer.status(heard, heard === state ? node.textContent : texts[heard]);
    sayChanges(heard);
  };
  return {
    node,
    // The region saying the network's loss and return (null where the page's announcer says it),
    // placed by the page.
    said,
    set(state) {
      wasLive = wasLive || state === "live";
      watched = state;
      draw();
    },
    // Whether the page's last read found the counts unreadable (`unavailable`, or the
    // leaderboard's 503 read-model-unavailable).
    unreadable(yes) {
      if (paused === Boolean(yes)) return;
      paused = Boolean(yes);
      draw();
    },
    // Whether the page's last read found the counts being recounted (`rebuilding`).
    recounting(yes) {
      if (recounting === Boolean(yes)) return;
      recounting = Boolean(yes);
      draw();
    },
  };
}

// A read that failed because the browser is offline (a phone in a hall without signal): the page
// says that state once, as it begins (its badge's region, or its announcer with the figures),
// and the failure's words ("The service cannot be reached…") are for the eye then, not said
// again at each read that fails meanwhile.
export const failedOffline = (error) => navigator.onLine === false && error?.status === 0;

// Writes `text` on a line that says why a read failed (a live region of `role`), or, `shown`,
// shows it without saying it (no live region while it shows such words). A line made live
// again is emptied first, so that its next words are said even if they are the ones shown (the
// service still unreachable once the network is back is news then).
export function sayOrShow(node, text, { role = "status", shown = false } = {}) {
  liveUnlessShown(node, role, shown);
  setText(node, text);
}

// The line made live (`role`) again, emptied first, or, `shown`, no live region: what sayOrShow
// and settledLine do before they write.
function liveUnlessShown(node, role, shown) {
  if (shown) node.removeAttribute("role");
  else if (node.getAttribute("role") !== role) {
    node.replaceChildren();
    node.setAttribute("role", role);
  }
}

// A read of a list that failed while the list is shown, said on a line of its own under the
// list's count (which stays: written over it, the error and the count took turns on a flaky
// network), with the time the list shown was read (or that it never was); gone at the next read
// that succeeds.
// `readAt`: when a list the page shows before its first read was read (a page kept from an
// earlier visit); 0, never. `read()` answers the time it took down, and `readAt` tells it.
// `failed(error, after)` says the read failed (and `after`, what the page does about it, in the
// same write: a line written twice a failure, its words and then its next read, was announced
// twice each time); `said(text)` any other reason a read is not shown (the leaderboard being
// recounted). A read that failed while the browser is offline (failedOffline) is shown, not said:
// the badge's region or the page's announcer says "Offline" as it begins, and said here too it
// was heard twice (then once more at each new time "shown was read at").
export function staleNotice(what, testId, readAt = 0) {
  const node = h("p", { class: "notice", role: "status", "data-testid": testId });
  // Why the newest read is not shown (`text`), with when the one shown was read.
  const words = (text, after = "") => {
    const when = readAt ? `The ${what} shown was read at ${formatZoned(new Date(readAt).toISOString())}.` : `The ${what} could not be read.`;
    return `${text} ${when}${after}`;
  };
  const said = (text, after = "", shown = false) => sayOrShow(node, words(text, after), { shown });
  return {
    node,
    get readAt() {
      return readAt;
    },
    read() {
      readAt = Date.now();
      sayOrShow(node, "");
      return readAt;
    },
    failed(error, after = "") {
      said(errorText(error), after, failedOffline(error));
    },
    said: (text, after = "") => said(text, after),
    // What `failed` would say, for a line of the page's own (not a live one: the leaderboard's
    // pause, which its announcer says).
    failedWords(error, after = "") {
      return words(errorText(error), after);
    },
  };
}

// The service lost its counts and is recounting them from every stored rating (seconds): said
// so, not "no rating yet", and read again this soon (the leaderboard, the programme).
export const REBUILD_READ_MS = 5000;
export const recounted = (what, it = "it is") => `${what} being recounted from the stored ratings; ${it} back in a few seconds.`;

// The service cannot read its counts just now (its store of them does not answer; nothing is
// lost: every rating is kept): said once so, not "not available" on each talk, and read again
// after 5 s, then 10, 20, 40, and every minute while it lasts (a store down for long is not
// asked by every phone every 5 s). `unreadable(what)`: the words; `unreadableRead(n)`: the wait
// before the n-th read again (0 the first).
export const unreadable = (what) => `${what} cannot be read just now (every rating sent is kept); trying again shortly.`;
export const unreadableRead = (attempt) => Math.min(60_000, 5000 * 2 ** attempt);

// A page's reads again of counts found unreadable, on unreadableRead's steps. `next()`, at each
// read that found them so, answers the wait before the next read: a step further when this read
// is the one the last wait asked for (or later), else (a read between: the second of the two at
// a page's start, one a live message or a reconnection made) the wait left to the read already
// due, neither put off nor moved on. The page's two reads at its start counted as two tries: its
// first read again came after 10 s, not 5. `reset()` once a read finds the counts.
export function unreadableRetries() {
  let step = 0;
  let dueAt = -Infinity;
  return {
    next() {
      const now = Date.now();
      if (now < dueAt) return dueAt - now;
      const wait = unreadableRead(step);
      step += 1;
      dueAt = now + wait;
      return wait;
    },
    reset() {
      step = 0;
      dueAt = -Infinity;
    },
  };
}

// The words of each page for why its counts are not the live ones: the programme's have none
// then; a talk's page and its room screen show the talk's as the stored ratings count them.
// `some(n)`: the programme's words when only n of its talks' counts cannot be read (a lost
// part of the store), the others' shown.
export const LISTED_COUNTS = {
  rebuilding: recounted("The counts and averages are", "they are"),
  unavailable: unreadable("The counts and averages"),
  some: (n) => `${plural(n, "talk's", "talks'")} counts cannot be read just now (every rating sent is kept); the others are shown as they are. Trying again shortly.`,
};
export const STORED_COUNTS = {
  rebuilding: "Counted from the stored ratings while the live counts are recounted; live again in a few seconds.",
  unavailable: "Counted from the stored ratings: the live counts cannot be read just now (every rating sent is kept); trying again shortly.",
};

// One line saying why the counts shown are not the live ones (`words`: LISTED_COUNTS or
// STORED_COUNTS), from a read's `rebuilding` and `unavailable` (the API's flags; `some`: how
// many talks' counts alone could not be read, when the others' were, said by `words.some`); empty when
// neither. `said(read)` answers when to read again: REBUILD_READ_MS while recounted, backing
// off (unreadableRead) while unreadable, null when neither.
// `live`: the line is a polite status region, said as it changes; not on a page whose announcer
// (announce.js) says the pause and the recount with its figures as they begin: a talk's page
// and its room screen (both said it, and the pause was heard twice).
export function countsNotice(words, testId = "counts-notice", { live = true } = {}) {
  const node = h("p", { class: "notice", role: live ? "status" : null, "data-testid": testId });
  const retries = unreadableRetries();
  return {
    node,
    said({ rebuilding = false, unavailable = false, some = 0 } = {}) {
      const lost = some && words.some ? words.some(some) : words.unavailable;
      setText(node, rebuilding ? words.rebuilding : unavailable ? lost : "");
      if (!unavailable) retries.reset();
      return rebuilding ? REBUILD_READ_MS : unavailable ? retries.next() : null;
    },
  };
}

// What a page does with each read of its counts (a talk's page and its room screen: watchTalk's
// `onRead`; the programme and the organisers' list: watchCatalogue's reads): say why they are
// not the live ones (`counts`: a countsNotice), say "Paused" on the `badge` while they cannot
// be read and "Recounting" while they are recounted, and read again (`reread()`) when the notice asks. `failed()` at a read that
// failed (the network, the gateway) reads again as the last read asked: nothing else would
// before the page's minute check, and its words and badge stayed meanwhile; but not while the
// browser is offline (a phone in a hall without signal), whose page's watcher reads at once
// when the network is back. `stop()` as the page stops: no read again is asked for after it.
export function countsFollowed(counts, badge, reread) {
  let timer = null;
  let stopped = false;
  let last = null; // the last read's flags
  return {
    failed() {
      if (stopped || !last || !(last.rebuilding || last.unavailable)) return;
      clearTimeout(timer);
      if (navigator.onLine === false) return; // (live.js's watch reads as it comes back online)
      timer = setTimeout(reread, counts.said(last));
    },
    onRead(body) {
      last = body;
      const wait = counts.said(body);
      badge.unreadable(body.unavailable && !body.some); // (some counts read: they still move)
      badge.recounting(body.rebuilding);
      clearTimeout(timer);
      if (wait !== null && !stopped) timer = setTimeout(reread, wait);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// "Now" when a talk is running, from its times and the service's clock.
export function isRunning(talk, now = serviceNow()) {
  const starts = Date.parse(talk.startsAt);
  const ends = Date.parse(talk.endsAt);
  return Number.isFinite(starts) && Number.isFinite(ends) && starts <= now && now < ends;
}

export function errorText(error) {
  if (!error) return "";
  if (error.status === 0) return "The service cannot be reached. Check your connection.";
  if (countsUnreadable(error)) return unreadable("The counts and averages");
  if (error.status === 503 || gatewayBusy(error)) return "The service is busy. Try again in a moment.";
  if (error.status === 502 || error.status === 504) return "The service did not answer in time. Try again in a moment.";
  // A 5xx that is not the API's problem document (a gateway's page) is said in words, not as "HTTP 500".
  if (error.status >= 500 && !error.problem?.detail && !error.problem?.title) return "Something went wrong on the service's side. Try again in a moment.";
  return error.message || "Something went wrong.";
}

// The programme's search, shared with the organisers' table: every word typed must be found in
// the title, a speaker, the track or the room, case, accents and apostrophes set aside on both
// sides ("celik" finds "Çelik", "zürich" finds "Zurich", "dont" and a phone's "don’t" find
// "Don't", "obrien" finds "O’Brien").
// Apostrophes and what stands for one: straight, curly (’ ‘), the letter ʼ, a backtick, an acute
// accent. Taken out before the accents are (NFKD makes ´ a space and an accent) and after (a
// full-width ＇ becomes ').
const APOSTROPHES = /['\u2019\u2018\u02bc`\u00b4]/g;
function folded(text) {
  return text.replace(APOSTROPHES, "").normalize("NFKD").replace(/\p{M}/gu, "").replace(APOSTROPHES, "").toLowerCase();
}

export function searchWords(query) {
  return folded(query || "").split(/\s+/).filter(Boolean);
}

export function matchesSearch(talk, words) {
  const text = folded([talk.title, talk.track, talk.room, ...(talk.speakers || [])].join(" "));
  return words.every((word) => text.includes(word));
}

// The search box of a list of talks: `changed` gets its text 120 ms after the last key.
export function searchBox(id, value, placeholder, changed) {
  const box = h("input", {
    id, type: "search", value, autocomplete: "off", placeholder, dir: "auto",
    oninput: debounce(() => changed(box.value), 120),
  });
  return box;
}

// A live line a search rewrites (its count, or that nothing matches): while the attendee types,
// what it says is written once the typing pauses, so a screen reader hears the count of the
// search typed ("3 talks") once, not one at each key on the way ("12 talks", "8 talks"); the
// list itself follows the keys. What it says otherwise (loading, an error) is written at once.
const SEARCH_SETTLES_MS = 600; // after searchBox's 120 ms: said about 0.7 s after the last key
// `show(...)` writes without saying (no live region while it shows those words: a read that
// failed while the browser is offline, whose loss the badge's region says), as sayOrShow does;
// the next `say` makes the line live again, emptied first.
export function settledLine(node) {
  const role = node.getAttribute("role");
  let parts = null; // what the line is to say
  let quiet = false; // shown, not said
  let typing = null; // the timer that ends a spell of typing
  const write = () => {
    typing = null;
    if (!parts) return;
    liveUnlessShown(node, role, quiet);
    refill(node, ...parts);
  };
  return {
    say(...next) {
      parts = next;
      quiet = false;
      if (typing === null) write();
    },
    show(...next) {
      parts = next;
      quiet = true;
      if (typing === null) write();
    },
    typed() {
      clearTimeout(typing);
      typing = setTimeout(write, SEARCH_SETTLES_MS);
    },
    stop() {
      clearTimeout(typing);
    },
  };
}

// "240 talks" when every talk is shown, "12 of 240 talks" when a search or filter narrows them.
export function shownOf(shown, total) {
  return shown === total ? plural(total, "talk", "talks") : `${formatCount(shown)} of ${plural(total, "talk", "talks")}`;
}

export function tracksOf(talks) {
  return [...new Set(talks.map((t) => t.track).filter(Boolean))].sort((a, b) => a.localeCompare(b));
}

// The choice of a track: a label and its select, whose options `set` puts in place, keeping the
// element (and so the keyboard focus on it) and its options still listed: a live change of the
// programme's tracks must not throw a keyboard or screen-reader user back to the top of the page.
// A right-to-left track's option reads so (its "!" stood on its right).
export function trackChoice(id, onChange) {
  const select = h("select", { id, onchange: () => onChange(select.value) });
  return {
    node: [h("label", { for: id }, "Track"), select],
    set(tracks, selected) {
      // A track the address names that no talk has now (an old link, a renamed track) is still
      // the one shown as chosen: "All tracks" over its empty list would say what is not so.
      const listed = ["", ...tracks, ...(selected && !tracks.includes(selected) ? [selected] : [])];
      const kept = new Map([...select.options].map((option) => [option.value, option]));
      const options = listed.map((track) => kept.get(track) || h("option", { value: track, dir: lineDirection([track]) }, track || "All tracks"));
      if (options.some((option, i) => option !== select.options[i]) || options.length !== select.options.length) select.replaceChildren(...options);
      select.value = selected;
    },
  };
}
