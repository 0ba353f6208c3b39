// /app/talks/<talkId>: rate the talk (1 to 5, changeable), and its live histogram.
import { h, fill, setText, formatTime, formatZone, formatZoned, dayOf, talkHref, debounce, isolated, directLine, isolatedText, lineDirection, setLang, speakerList } from "../dom.js";
import { request, get, talkPath, appConfig, ApiError, serviceNow, credentialRefused, keysUpdating } from "../api.js";
import { watchTalk, watchForTalk, newestShown } from "../live.js";
import { histogramView } from "../histogram.js";
import { voterToken, forgetToken, forgetExpired, renewIfDue, countsBeside, rememberCode, CodeRequired, TooManyVoters, ownRating, rememberRating, sendingRating, keepSending, safeToResend, takeRefused } from "../voter.js";
import { claim, keepForLater, inProgress, putOff, waitLeft, sendNoted, mayHaveCounted, passNow, renewedSince, holdSending, sendAlone } from "../outbox.js";
import { liveBadge, errorText, countsNotice, countsFollowed, STORED_COUNTS } from "./common.js";
import { liveAnnouncer } from "../announce.js";
import { ratingWindow, ratingClosed, when, zoned, atNextEdge } from "../window.js";
import { rememberTalks, knownTalk } from "../known.js";
import { shareAction } from "../share.js";

// Conference Wi-Fi drops answers: a rating that got none, or an answer meaning "later"
// (outbox.js's keepForLater: a 5xx, the gateway's throttle, the service updating its keys,
// "still in progress"), is sent again
// with the same Idempotency-Key, which the service counts once, up to three more times; then it
// is kept, and sent again later. A Retry-After up to QUICK_MS is waited for here; a longer one
// ends these tries: the rating waits, and the page says for how long.
const RETRY_MS = [1000, 2000, 4000];
const QUICK_MS = 10_000;
const newKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
// The CDN or API Gateway answered instead of the API (no answer from it in time): the rating may
// have been stored, so it is neither "not counted" nor dropped.
// The talk's read says it is not in the programme: 404, or 400 for an id no talk can have (a
// link copied with the bracket or the words after it), which no retry will change.
const notInProgramme = (error) => error instanceof ApiError && (error.status === 404 || error.status === 400);
const unanswered = (error) => error instanceof ApiError && (error.status === 502 || error.status === 504);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// `ms`, or less when the browser says the network is back.
const pauseUntilOnline = (ms) => new Promise((resolve) => {
  const done = () => {
    clearTimeout(timer);
    removeEventListener("online", done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  addEventListener("online", done);
});
// How often a page whose talk is not (or no longer) in the programme looks for it, as the room
// screen does.
const COMEBACK_MS = 30_000;

// The seconds until `ms` from now, counted down where they are shown, once a second: `words`
// around the count ("20 s") while there are some, `up` in place of them all once they are up (a
// waiting rating is on its way: "a moment"). Half a second after they are shown, before the
// first tick, they tell the message they are in ("counting"), which then stops being a live
// region until it says something else (talkPage's `say`); `up` words that are `news` (the
// attendee may act now) tell it first ("counted"), and are read out, once. They stop once they
// are no longer on the page (the message replaced).
function secondsLeft(ms, { words = (count) => count, up = "a moment", news = false } = {}) {
  const until = Date.now() + ms;
  const count = h("span", { class: "seconds-left" });
  const shown = h("span", {}, words(count));
  const tell = (what) => shown.dispatchEvent(new Event(what, { bubbles: true }));
  const show = () => (until > Date.now() ? setText(count, `${Math.ceil((until - Date.now()) / 1000)} s`) : setText(shown, up));
  show();
  setTimeout(() => tell("counting"), 500);
  const ticking = setInterval(() => {
    if (!shown.isConnected || until <= Date.now()) clearInterval(ticking);
    if (!shown.isConnected) return;
    if (news && until <= Date.now()) tell("counted");
    show();
  }, 1000);
  return shown;
}
// When the attendee may rate again after a refusal over the limit: the service's seconds counted
// down, then said to be up.
const tryAgain = (error) => (error.retryAfter
  ? secondsLeft(error.retryAfter * 1000, { words: (count) => ["Try again in ", count, "."], up: "You can rate again now.", news: true })
  : "Try again in a moment.");
// The service cannot check the attendee's pass until it reads its keys again: not "too many",
// and nothing for them to do; the rating and its pass are kept, and sent again `ms` from now.
const updatingKeys = (ms) => ["The service is updating its keys: your rating is kept, and sent in ", secondsLeft(ms), "."];
// Why a rating waits (`why`, kept with it by outbox.js's putOff: a page opened meanwhile says
// the same), for `ms` more.
const WAITS_FOR = {
  passes: "Too many attendee passes asked for from this network just now",
  failing: "Something went wrong on the service's side",
};
const waitsFor = (why, ms) => (why === "keys" ? updatingKeys(ms)
  : [`${WAITS_FOR[why] ?? "The service is busy"}: your rating waits, and is sent in `, secondsLeft(ms), "."]);

// Why a rating was not counted, in the attendee's words (with the seconds until they may try
// again, counting down: an array for `say`).
function refusal(error) {
  if (!(error instanceof ApiError)) return "Something went wrong: your rating was not counted.";
  switch (error.status) {
    case 409: {
      if (inProgress(error)) return "Your rating is still being sent: check it in a moment.";
      if (String(error.problem.type || "").endsWith(":ratings-paused")) return "Ratings of this talk are paused by the organisers: your rating was not counted.";
      const { opensAt, closesAt } = error.problem;
      // A talk moved later is not "closed": it has not opened yet.
      if (opensAt && Date.parse(opensAt) > serviceNow()) return `Rating has not opened yet for this talk: it opens ${zoned(opensAt)}. Your rating was not counted.`;
      if (closesAt) return `Rating is closed for this talk: it closed ${zoned(closesAt)}.`;
      return "Rating is closed for this talk: it takes ratings from its start until shortly after its end.";
    }
    case 429:
      return ["Too many ratings from here just now: this one was not counted. ", tryAgain(error)];
    case 404:
      return "This talk is no longer in the programme.";
    case 401:
    case 403:
      return "Your attendee pass was refused: reload the page to get a new one.";
    default:
      return `${errorText(error)} Your rating was not counted.`;
  }
}

// What the attendee does to a star: "Tap" on a touch screen, "Choose" with a mouse or the
// keyboard (which do not tap; "click" would not fit the keyboard either).
const pick = () => (matchMedia("(pointer: coarse)").matches ? "Tap" : "Choose");

// A rating's words while it is kept: the phone offline, and the phone online but the service not
// answering it.
const OFFLINE = "Waiting for the network: your rating will be sent when you are back online.";
const UNREACHABLE = "The service cannot be reached just now: your rating is kept and sent as soon as it answers.";
// When the talk's rating closes, as the page says it beside a kept rating: the time alone today.
const closingTime = (talk) => (dayOf(Date.parse(talk.ratingClosesAt)) === dayOf(serviceNow())
  ? formatZoned(talk.ratingClosesAt) : zoned(talk.ratingClosesAt));
// The words of a rating kept (`words`: OFFLINE or UNREACHABLE) for a talk whose rating closes at
// a known time: the service counts it only if it arrives before (it cannot take a phone's word
// for when it was tapped). "Will be sent" alone was refused with a 409 after the close.
function keptWords(words, talk) {
  // Paused by the organisers: counted only if they resume the ratings before it arrives.
  if (talk && talk.ratingsPaused) {
    return `${words === OFFLINE ? "Waiting for the network" : "The service cannot be reached just now"}: your rating is kept, but the organisers have paused ratings of this talk, so it counts only if they resume them before it reaches the service.`;
  }
  if (!talk || !Number.isFinite(Date.parse(talk.ratingClosesAt))) return words;
  const closes = closingTime(talk);
  return words === OFFLINE
    ? `Waiting for the network: your rating will be sent when you are back online, and counts if it reaches the service before ${closes}, when rating closes.`
    : `The service cannot be reached just now: your rating is kept and sent as soon as it answers, and counts if it reaches the service before ${closes}, when rating closes.`;
}

// The talk's read failing with the phone offline (a talk page opened from its QR code with the
// hall's Wi-Fi down): named as read before, or not at all; rated all the same.
const OFFLINE_KNOWN = "You are offline: the title is as this phone last read it. The talk's details and ratings will show when you are back online; you can rate it now.";
const OFFLINE_UNKNOWN = "You are offline: this talk's title and details will show when you are back online. You can rate it now: your rating is kept and sent then.";

const BESIDE = "Your earlier attendee pass is no longer taken (it expired, or the organisers replaced the passes), so you rate with a new one: this rating counts beside your earlier rating of this talk, not in its place.";

// A rating sent earlier whose answer never came, and which cannot be sent again without the risk
// of counting twice: the attendee is told, and chooses.
const unconfirmed = (value) => `Your earlier rating of ${value} out of 5 could not be confirmed: it may not have been counted. ${pick()} a star to rate again.`;

// Thrown by a rating a send of which may have been stored (its answer lost, a 5xx) whose pass
// is refused now: sent again under a new pass it would count as a second attendee if that send
// counted.
class PassRefusedAfterSending extends Error {}

// No pass for now (too many asked for from this network, or a busy service): the rating waits
// `retryAfter` seconds (or to the page's next check) and is sent then, with a pass.
class PassLater extends Error {
  constructor(retryAfter, network) {
    super("No attendee pass for now.");
    this.retryAfter = retryAfter;
    this.network = network; // this network's passes for the minute used up, not a busy service
  }
}

export function talkPage(main, talkId) {
  document.title = "Talk · talkrate";
  forgetExpired();
  renewIfDue();
  let policy = "open";
  let tokens = true; // false once the service said it hands out no voter tokens
  let pending = null; // the rating waiting for the event code
  let busy = false;
  let next = null; // a star tapped while another rating was on its way: sent after it
  let waiting = false; // a kept rating waits: for the network, or as the service asked
  let retryTimer = null; // a rating waiting as the service asked is sent again then
  let settled = null; // the key of the last rating this page had the service's answer for
  // This page sends its talk's kept rating itself, and says how it goes (outbox.js sends the others').
  const release = claim(talkId);
  // The count and average said to a screen reader at most every 15 s (announce.js).
  const announcer = liveAnnouncer(15_000);
  const histogram = histogramView({ announcer });
  const badge = liveBadge(announcer);
  const buttons = [1, 2, 3, 4, 5].map((value) =>
    h("button", {
      type: "button", class: "star", "aria-label": `Rate ${value} out of 5`, "aria-pressed": "false",
      onclick: () => rate(value),
    }, h("span", { "aria-hidden": "true" }, "★"), h("span", { class: "star-value", "aria-hidden": "true" }, String(value))));
  const own = h("p", { class: "own", "data-testid": "own-rating", "aria-live": "polite" }, `${pick()} a star to rate this talk.`);
  const message = h("p", { class: "message", role: "alert", id: "rating-message", "data-testid": "message" });
  // What the page says of the rating: a refusal in the warning's colour; a rating on its way or
  // waiting for the network (`info`), which will be sent, in the text's. Words (a string), or
  // words and the seconds a waiting rating has left or a refusal asks to wait (secondsLeft): read
  // out once, as the alert they are (each time they are said), then counted down seen but not
  // heard: the message is no live region while they count (aria-live "off", from before their
  // first tick until the page says something else, or a refusal's seconds are up and it says
  // the attendee can rate again), else a screen reader would read the whole alert again every
  // second. Read again by the reader, it says the seconds left then.
  let keptSaid = null; // OFFLINE or UNREACHABLE while the message says a kept rating's words
  const say = (text, { info = false } = {}) => {
    keptSaid = null;
    message.removeAttribute("aria-live");
    if (Array.isArray(text)) fill(message, ...text);
    else setText(message, text);
    message.classList.toggle("info", info);
  };
  message.addEventListener("counting", () => message.setAttribute("aria-live", "off"));
  message.addEventListener("counted", () => message.removeAttribute("aria-live"));
  // Focusable by script only: a star that had the keyboard focus when rating closed hands it
  // here, to the line that says why (a disabled button drops the focus to the page's start).
  const hint = h("p", { class: "muted hint", id: "rating-hint", tabindex: "-1" });
  // Typed as said: a phone's keyboard would capitalise, correct or complete it (the service
  // takes any case of it all the same, and the spaces around it).
  const codeInput = h("input", { id: "event-code", autocomplete: "off", autocapitalize: "none", autocorrect: "off",
    spellcheck: "false", required: true, maxlength: 100 });
  const codeForm = h("form", { class: "code-form", hidden: true, onsubmit: submitCode },
    h("label", { for: "event-code" }, "Event code"),
    h("p", { class: "muted", id: "event-code-help" }, "This event asks for its code (on your badge or the opening slide) before you rate."),
    h("span", { class: "row" }, codeInput, h("button", { type: "submit" }, "Continue")));
  codeInput.setAttribute("aria-describedby", "event-code-help");
  // Focusable by script only: "Show the whole title" hands it the keyboard focus when a larger
  // window takes that button away.
  const title = h("h1", { id: "talk-title", tabindex: "-1" }, "Loading…");
  const wholeTitle = h("button", { type: "button", class: "link title-toggle", hidden: true, "aria-controls": "talk-title",
    "aria-expanded": "false", onclick: toggleTitle }, "Show the whole title");
  const meta = h("p", { class: "meta" });
  // The talk's read failing, on its own line under the heading (gone once the talk is read): a
  // rating tapped meanwhile keeps its own words on the rating's line.
  const reading = h("p", { class: "notice", role: "status", "data-testid": "talk-read" });
  // Why the counts shown are the stored ratings' (see countsNotice): read again until live.
  // (said by the announcer, with the figures: not a status line of its own)
  const counts = countsNotice(STORED_COUNTS, "counts-notice", { live: false });
  const followed = countsFollowed(counts, badge, () => live.refresh().catch(() => {}));
  const screenLink = h("a", { href: `${talkHref(talkId)}/screen`, class: "screen-link" }, "Open the room screen");
  // The results shared (share.js): the talk page's address (its results are on it, under the
  // stars) and its title, average and count as the page shows them now.
  const share = shareAction(() => {
    const shownAs = (id) => histogram.summary.querySelector(`[data-testid="${id}"]`).textContent;
    if (!talk || shownAs("total").startsWith("–")) return null;
    const figures = shownAs("average") === "–" ? "no ratings yet" : `${shownAs("average")} average from ${shownAs("total")}`;
    return { title: talk.title, text: `“${talk.title}”: ${figures}`, url: new URL(talkHref(talkId), location.href).href };
  });
  fill(main,
    h("article", { class: "talk" },
      title, wholeTitle, meta, reading,
      h("section", { class: "rate", "aria-labelledby": "rate-heading" },
        h("h2", { id: "rate-heading" }, "Your rating"),
        h("div", { class: "stars-row", role: "group", "aria-labelledby": "rate-heading" }, buttons),
        h("div", { class: "rating-lines" }, own, message), hint, codeForm),
      h("section", { class: "results", "aria-labelledby": "results-heading" },
        h("h2", { id: "results-heading" }, "Ratings"),
        histogram.summary, histogram.list, histogram.stats, share, counts.node, badge.node, announcer.node),
      h("p", {}, screenLink)));

  let talk = null; // the talk document, once loaded
  // The newest of the talk's changes shown, read or pushed: a read older than a message that
  // came while it was on its way is dropped (live.js).
  const shown = newestShown();
  let titleOpened = false; // the attendee asked for the whole of a title cut short
  let metaShown = null; // what the line under the title shows (see showTalk)

  // A title so long that the stars would fall below the phone's first screen (300 characters of
  // long words at 320 px) is cut to the lines that keep them on it, at least two, with a button
  // for the whole title. Measured, not guessed from its length, and again when the window
  // changes size. Only what is seen is cut: the heading's text (what a screen reader reads, and
  // the page's title) stays whole.
  function fitTitle() {
    const focused = document.activeElement === wholeTitle;
    const unclamp = () => {
      for (const node of [title, meta]) {
        node.classList.remove("clamped");
        node.style.removeProperty("--lines");
      }
    };
    // The title and the speakers' line shown whole, nothing offered to open; the keyboard on
    // the button that is gone (a larger window) goes to the title it opened.
    const whole = () => {
      unclamp();
      wholeTitle.hidden = true;
      if (focused) title.focus({ preventScroll: true });
    };
    unclamp();
    // Measured without the button, taken out of the flow rather than hidden: hiding it took
    // the keyboard focus from it to the page's start, as it was pressed or a phone turned.
    wholeTitle.style.position = "absolute";
    const stars = main.querySelector(".stars-row");
    const below = () => stars.getBoundingClientRect().bottom + scrollY - innerHeight;
    const lineHeight = (node) => parseFloat(getComputedStyle(node).lineHeight) || 24;
    const lines = (node) => Math.round(node.clientHeight / lineHeight(node));
    const cut = talk !== null && stars !== null && below() > 0 && lines(title) > 2;
    wholeTitle.style.removeProperty("position");
    if (!cut) return whole();
    wholeTitle.hidden = false;
    const uncut = below(); // how far below the first screen the stars are with the title whole
    wholeTitle.setAttribute("aria-expanded", String(titleOpened));
    if (titleOpened) {
      setText(wholeTitle, "Show less of the title");
      return;
    }
    // The title a line less at a time (from a first guess) while the stars are below; then,
    // at two lines, the speakers (six long names can take nine lines of a small phone).
    for (const node of [title, meta]) {
      let fit = Math.max(2, lines(node) - Math.ceil(below() / lineHeight(node)) - 2);
      if (fit >= lines(node)) break;
      node.classList.add("clamped");
      for (;;) {
        node.style.setProperty("--lines", String(fit));
        if (fit <= 2 || below() <= 0) break;
        fit -= 1;
      }
      if (below() <= 0) break;
    }
    // A cut that neither brings the stars onto the first screen nor saves half a screen of
    // scrolling (a short title at 200% text: cut, and with its button, it took more room than
    // whole) hides the title, the speakers and the room for nothing: shown whole instead.
    if (below() > 0 && uncut - below() < innerHeight / 2) {
      whole();
      return;
    }
    setText(wholeTitle, meta.classList.contains("clamped") ? "Show the whole title and speakers" : "Show the whole title");
  }
  // The whole title opened (or cut again) from its button: the button, which keeps the keyboard
  // focus, moved with the title's end, below the screen on a phone; scrolled back into view by
  // no more than it takes (the title's start stays on the screen when both fit).
  function toggleTitle() {
    titleOpened = !titleOpened;
    fitTitle();
    if (!wholeTitle.hidden) wholeTitle.scrollIntoView({ block: "nearest" });
  }
  const refit = debounce(fitTitle, 200);
  addEventListener("resize", refit);
  let open = true; // whether its rating window is open, by the service's clock
  const now = serviceNow; // the service's clock, which every answer sets
  let unrated = ""; // what to say of an attendee who did not rate while it is closed

  function showOwn(value) {
    buttons.forEach((button, i) => {
      button.setAttribute("aria-pressed", String(i + 1 === value));
      button.classList.remove("sending"); // a rating waiting here, ended by another page
    });
    // Without a pass (a service that gives none) another star is another rating, not a change.
    const change = open && tokens ? ` ${pick()} another star to change it.` : "";
    setText(own, value ? `You rated ${value} out of 5.${change}` : open ? `${pick()} a star to rate this talk.` : unrated);
  }
  // The rating kept on its way, if it can still be sent (safeToResend). One that cannot (sent
  // without a voter token too long ago for the service to know its key) is not on its way any
  // more: dropped, and the attendee told, once the page shows its talk.
  function keptRating() {
    const held = sendingRating(talkId);
    if (!held || safeToResend(held)) return held;
    if (talk) {
      keepSending(talkId, null);
      waiting = false;
      say(unconfirmed(held.value));
    }
    return null;
  }

  // The attendee's rating: the one on its way, else the last one the service took. A rating
  // being sent says so itself. `heard`: told by another tab's storage.
  function showMine(heard = false) {
    if (busy) return;
    const held = keptRating();
    if (waiting && !held) {
      waiting = false; // another tab's newer rating took its place, or another page sent it
      say("");
    }
    if (talk) sayRefused(heard);
    // (waiting: this page's own, or, offline, another tab's: "Sending…" for a minute read as stuck)
    if (held) showSending(held.value, waiting || !navigator.onLine ? `Waiting to send your rating: ${held.value} out of 5.` : undefined);
    else showOwn(ownRating(talkId));
  }

  // A kept rating another page sent (outbox.js), refused by the service: said here once, when
  // the page shows its talk or, open in another tab, as soon as that page notes it. One this
  // page had the answer for itself was said already.
  function sayRefused(heard) {
    const refused = takeRefused(talkId);
    if (!refused || refused.key === settled) return;
    if (refused.unconfirmed) say(unconfirmed(refused.value));
    else say([`Your rating of ${refused.value} out of 5 was sent from another page, and refused. `, refusal(new ApiError(refused.status, refused.problem, refused.retryAfter))]);
    // Closed or gone meanwhile: the stars follow.
    if (heard && (refused.status === 409 || refused.status === 404)) reloadTalk();
  }

  // The buttons follow the rating window: checked on load, every 30 s, at its next edge, and
  // after a 409.
  let edgeTimer = null;
  function showWindow() {
    if (!talk) return;
    clearTimeout(edgeTimer);
    edgeTimer = atNextEdge([talk], now(), showWindow);
    const state = ratingWindow(talk, now());
    open = state.open;
    unrated = state.unrated || "";
    const focused = buttons.includes(document.activeElement);
    buttons.forEach((button) => {
      button.disabled = !open;
      // (a star that takes no rating says why: the hint's words, as its description)
      if (open) button.removeAttribute("aria-describedby");
      else button.setAttribute("aria-describedby", hint.id);
    });
    setText(hint, state.text);
    if (focused && !open) hint.focus();
    // A kept rating's words follow a pause or a resume of the talk's ratings (heard live): a
    // paused talk's rating is not promised.
    if (waiting && keptSaid && message.textContent !== keptWords(keptSaid, talk)) {
      const words = keptSaid;
      say(keptWords(words, talk), { info: true });
      keptSaid = words;
    }
    if (ratingClosed(talk, now())) dropClosed();
    showMine();
  }
  // A rating still kept when the talk's rating closes (offline, the service out of reach, or
  // waiting as it asked), never stored, can no longer count: it is dropped and the attendee told,
  // rather than the page saying it will be sent, and sending it to be refused. One whose send may
  // have been stored (an answer lost, "still in progress") is sent again as before: the service's
  // answer under its key says whether it counted. One on its way now, from this tab or another
  // (the talk's sending lock, outbox.js), is left to the service's answer, which is said.
  function dropClosed() {
    if (busy || !sendingRating(talkId)) return;
    sendAlone(talkId, () => {
      const held = busy || stopped ? null : sendingRating(talkId);
      if (!held || mayHaveCounted(held) || !ratingClosed(talk, now())) return;
      keepSending(talkId, null);
      waiting = false;
      clearTimeout(retryTimer);
      say(`Rating closed at ${closingTime(talk)} before your rating of ${held.value} out of 5 could be sent: it was not counted.`);
      showMine();
    });
  }
  // An organiser may move or retitle the talk while the page is open: it is read again at every
  // other check while the page is shown (once a minute: a room of open phones each asking twice
  // a minute would cost every one), and at each check while the stars are off (nothing the
  // attendee does reads it then). The room, the times, the window's edges and the stars follow.
  // A rating waiting for a service the browser could not reach while it said it was online (no
  // 'online' will come) is tried again at each check too.
  let checks = 0;
  const windowTimer = setInterval(() => {
    checks += 1;
    if (waiting && navigator.onLine) resend();
    if (!open || (checks % 2 === 0 && document.visibilityState === "visible")) reloadTalk();
    else showWindow();
  }, 30_000);
  // An attendee coming back to the page (a phone out of a pocket, a tab brought forward) finds
  // the talk as it is now: an organiser may have retitled or moved it meanwhile. One read per
  // return, not a timer: a room of open phones asking twice a minute would cost every one.
  function onVisible() {
    if (document.visibilityState === "visible") reloadTalk();
  }
  document.addEventListener("visibilitychange", onVisible);
  // Every tab of the attendee shows their newest rating: another tab's is told by its storage,
  // and so is the refusal of one another page sent. A rating another tab keeps is this tab's to
  // send once that tab is done with it, if it is still kept then (sendKeptAlone).
  const onStorage = () => {
    showMine(true);
    if (!busy && !stopped && navigator.onLine && keptRating()) sendKeptAlone(true);
  };
  window.addEventListener("storage", onStorage);
  window.addEventListener("online", resend);

  async function post(value, token, key) {
    return request("POST", "/ratings", {
      body: { talkId, value },
      headers: { "Idempotency-Key": key, ...(token ? { "Voter-Token": token } : {}) },
    });
  }

  // One tap's rating, sent (by `once`) until it has an answer that is not "later" (see
  // RETRY_MS). `quietly`: a waiting rating tried again in the background, whose message already
  // says so.
  async function send(once, quietly = false) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await once();
      } catch (error) {
        const wait = error.retryAfter ? error.retryAfter * 1000 : RETRY_MS[attempt];
        if (!keepForLater(error) || attempt >= RETRY_MS.length || wait > QUICK_MS || stopped || !navigator.onLine) throw error;
        if (!quietly) say(keysUpdating(error) ? updatingKeys(wait) : "Connection trouble: sending your rating again…", { info: true });
        await pause(wait);
      }
    }
  }

  // The voting policy, from the page's config (asked again while it could not be read).
  let policyKnown = false;
  async function knowPolicy() {
    if (policyKnown) return;
    const config = await appConfig();
    policy = config.votingPolicy || "open";
    policyKnown = !config.unknown;
  }

  async function tokenFor() {
    await knowPolicy();
    if (!tokens && policy !== "attendee") return null;
    try {
      return await voterToken();
    } catch (error) {
      // A service with no passes to give (no POST /voters): under open voting the rating goes
      // without one, each counting. Anything else (out of reach, too many passes asked for
      // from this network, a busy service) is not that: a rating without a pass then counted
      // beside the attendee's next one, one attendee counted twice when they changed their mind.
      if (policy !== "attendee" && error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        tokens = false;
        return null;
      }
      if (error instanceof TooManyVoters || (keepForLater(error) && error.status !== 0)) {
        throw new PassLater(error.retryAfter, error instanceof TooManyVoters);
      }
      throw error;
    }
  }

  function showSending(value, text = `Sending your rating: ${value} out of 5…`) {
    buttons.forEach((b, i) => b.classList.toggle("sending", i + 1 === value));
    setText(own, text);
  }
  showMine();

  // A rating kept on its way when the page was left (a reload before its answer), or waiting for
  // the network: sent again with its Idempotency-Key, so the page shows what the service
  // counted, and it counts once. Not before the time the service asked it to wait (outbox.js's
  // putOff), whichever page heard it: then, by a timer.
  function resend() {
    if (busy || stopped) return;
    const held = keptRating();
    if (!held) return;
    const left = waitLeft(held);
    if (!left) {
      sendKeptAlone();
      return;
    }
    if (!waiting) {
      waiting = true;
      say(waitsFor(held.why, left), { info: true });
      showMine();
    }
    clearTimeout(retryTimer);
    retryTimer = setTimeout(resend, left);
  }

  // The kept rating sent from this tab, unless another tab of the attendee is sending it (the
  // talk's sending lock, outbox.js): then this one waits for its turn (`wait`), and sends the
  // rating only if it is still kept then (that tab closed mid-send, or its answer said "later").
  // Granted after waiting, it first lets that tab's last word reach it (a tab's view of
  // localStorage catches up with another's a moment later), so an answered rating is not sent
  // again. One turn waited for at a time.
  let queued = false;
  function sendKeptAlone(wait = false) {
    if (wait && queued) return;
    if (wait) queued = true;
    const seen = sendingRating(talkId)?.key;
    sendAlone(talkId, async () => {
      if (wait) {
        queued = false;
        await keptCaughtUp(seen);
      }
      const held = busy || stopped ? null : keptRating();
      if (!held) {
        if (!busy && !stopped) showMine();
        return false;
      }
      if (waitLeft(held)) return true; // it waits as the service asked: resend sets its timer
      await rate(held.value, held);
      return false;
    }, { wait, busy: "elsewhere" }).then((then) => {
      if (then === "elsewhere") sendKeptAlone(true);
      else if (then) resend();
    });
  }
  // Resolves once the kept rating is no longer the one of key `seen`, or after a second.
  function keptCaughtUp(seen) {
    return new Promise((resolve) => {
      const check = () => {
        if (sendingRating(talkId)?.key !== seen) done();
      };
      const timer = setTimeout(() => done(), 1000);
      const done = () => {
        clearTimeout(timer);
        removeEventListener("storage", check);
        resolve();
      };
      addEventListener("storage", check);
      check();
    });
  }

  // The last star tapped is the one that stands: a tap while a rating is on its way (a slow
  // network) waits for it, then is sent, so the two arrive in the order they were made. Each is
  // kept with its key before it is sent (`held`: one kept so, sent again).
  async function rate(value, held = null) {
    if (busy) {
      next = value;
      showSending(value);
      return;
    }
    busy = true;
    const sending = holdSending(talkId); // (before it is kept: another tab hears it kept after)
    // A rating waiting for the network, tried again by itself (each 30 s check, the network's
    // return): its lines keep saying it waits until it is counted or refused. Cleared and said
    // again at each try, they were read out by a screen reader twice a minute, an alert each time.
    const quietly = waiting && held !== null;
    waiting = false;
    let sent = false;
    if (!quietly) say("");
    codeForm.hidden = true;
    showSending(value, quietly ? `Waiting to send your rating: ${value} out of 5.` : undefined);
    const key = held ? held.key : newKey();
    // Held under a pass renewed since: sent with the renewed one, the same voter (outbox.js's
    // passNow). undefined: not asked for yet.
    let token = held ? passNow(held.token) : undefined;
    let sentAt = held?.sentAt; // from its first send: how long the service still knows its key
    // Whether a send of it under its pass may have been stored (outbox.js's mayHaveCounted).
    let stored = held ? mayHaveCounted(held) : false;
    const keep = () => keepSending(talkId, { value, key, token, sentAt, stored });
    // One send, noted as outbox.js's sendNoted notes it (a 429, its pass refused: nothing stored).
    const once = () => {
      token = passNow(token); // renewed meanwhile, by this page or another tab
      return sendNoted(() => post(value, token, key), stored, (now) => { stored = now; keep(); });
    };
    try {
      keep();
      if (!navigator.onLine) throw new ApiError(0);
      if (token === undefined) token = await tokenFor();
      sentAt ??= Date.now();
      keep();
      let answer;
      try {
        answer = await send(once, quietly);
      } catch (error) {
        // Refused, and renewed meanwhile (another tab, as it went): sent again with the renewed
        // pass (`once` takes it), the same voter, under its key, the pass kept. A rating held
        // since before the renewal, whose old pass expired, is not a new voter's.
        if (renewedSince(token, error)) {
          answer = await send(once);
        } else {
          // An expired or revoked pass: one new pass, one more try, with its key. Not for a rating
          // a send of which under the refused pass may have been stored (an answer lost, a 5xx,
          // before this run or in it): that send may have counted, and under a new pass it would
          // count again, as another attendee. One whose every send was answered with nothing
          // stored (429s while the service read its keys again, then this 401) takes a new pass.
          if (!(token && credentialRefused(error))) throw error;
          forgetToken(token); // (a new voter's pass, given for it meanwhile, stays)
          if (stored) throw new PassRefusedAfterSending();
          token = undefined; // refused, so not counted: a pass still to ask for if none comes now
          keep();
          token = await tokenFor();
          keep();
          answer = await send(once);
        }
      }
      const counted = answer.body?.rating?.value ?? value;
      // Under a new pass (the earlier one expired before it could be renewed, or was refused), a
      // talk rated under the earlier one now has two of this attendee's ratings: said, not hidden.
      if (countsBeside(talkId, token)) say(BESIDE, { info: true });
      else say("");
      rememberRating(talkId, counted);
      showOwn(counted);
      sent = true;
      live.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 0) {
        // Offline: kept, and sent when the browser is back online. Online and the service out of
        // reach (down, or a hall's Wi-Fi without a way out): kept, and sent again at each check
        // (every 30 s) until it answers; "back online" would send the attendee to a phone that is.
        waiting = true;
        const words = navigator.onLine ? UNREACHABLE : OFFLINE;
        say(keptWords(words, talk), { info: true });
        keptSaid = words;
      } else if (inProgress(error) || unanswered(error)) {
        // Another run of this key (another tab, the page before a reload) still holds it, or a
        // gateway answered for the service: the rating's answer is still to come. Kept, and
        // asked again (under its key) at the next check, not dropped.
        waiting = true;
        say("Your rating is still being sent: this page checks it again shortly.", { info: true });
      } else if (error instanceof PassLater || keepForLater(error)) {
        // No pass for now (too many asked for from this network: not this attendee's ratings,
        // everyone behind its address shares the limit), or the service busy or failing past
        // the page's tries: kept, and sent when the service said (else at the next check), by
        // this page or any other. A tap is not lost to a server's hiccup.
        waiting = true;
        const why = error.network ? "passes" : keysUpdating(error) ? "keys"
          : error.status >= 500 && error.status !== 503 ? "failing" : null;
        const wait = putOff(talkId, key, error.retryAfter, why);
        say(waitsFor(why, wait), { info: true });
        clearTimeout(retryTimer);
        retryTimer = setTimeout(resend, wait);
      } else if (error instanceof PassRefusedAfterSending) {
        say(unconfirmed(value));
      } else if (error instanceof CodeRequired) {
        pending = next ?? value;
        codeForm.hidden = false;
        // Asked for the first time, the field says why (its hint), as the attendee's line says
        // what waits for it: nothing in the error line, as if they had done something wrong.
        say(error.wrong ? error.message : "");
        // A wrong code is said at its field too, which is marked so (it read as valid, the
        // refusal apart from it).
        if (error.wrong) codeInput.setAttribute("aria-invalid", "true");
        else codeInput.removeAttribute("aria-invalid");
        codeInput.setAttribute("aria-describedby", error.wrong ? "rating-message event-code-help" : "event-code-help");
        codeInput.focus();
      } else if (error instanceof ApiError && error.status === 404 && talk) {
        notFound(true); // removed while the page was open: its stars could only be refused
        return;
      } else {
        say(refusal(error));
        if (error instanceof ApiError && error.status === 409) reloadTalk();
      }
      // The rating counted before, unless this one waits (its line says so, in `finally`), or
      // waits for the event code (said so: "Choose a star" was heard with the tap still held).
      if (pending !== null && !codeForm.hidden) setText(own, `Your ${pending} out of 5 is sent once you give the event code.`);
      else if (!waiting) showOwn(ownRating(talkId));
    } finally {
      // Answered (or refused): no longer on its way, unless another tab sends one of its own.
      if (!waiting) settled = key;
      if (!waiting && sendingRating(talkId)?.key === key) keepSending(talkId, null);
      busy = false;
      sending();
      buttons.forEach((b) => b.classList.remove("sending"));
      if (waiting) showMine();
      // After a refusal the tap made meanwhile is dropped: the message says why, and the
      // attendee taps again once they have read it. One made while waiting for the network
      // takes the waiting one's place.
      const then = next;
      next = null;
      if ((sent || waiting) && then !== null && then !== value && !stopped) rate(then);
    }
  }

  function submitCode(event) {
    event.preventDefault();
    rememberCode(codeInput.value.trim());
    codeInput.value = "";
    if (!pending) return;
    // The form goes away as the rating is sent: the keyboard goes to the star being sent, not
    // back to the page's top (a wrong code brings it back to the field).
    buttons[pending - 1].focus();
    rate(pending);
  }

  let live = { refresh: async () => {}, stop() {} };
  let stopped = false;
  let left = false; // the attendee went to another page
  let revived = null; // the page drawn again when the talk came back (comeBack)
  let comebackTimer = null;

  (async () => {
    try {
      appConfig(); // asked beside the talk; knowPolicy() waits for it
      let loaded = null;
      // A phone that opened the page on a hall's crowded Wi-Fi: the page tries again by itself
      // (a talk not in the programme is said at once), and at once when the network returns.
      // Meanwhile it names the talk as this phone last read it (known.js), and offline says
      // that its details come back with the network; the stars take a rating all the same.
      while (!loaded) {
        try {
          loaded = await loadTalk();
        } catch (error) {
          if (stopped || notInProgramme(error)) throw error;
          const known = showKnown();
          setText(reading, navigator.onLine ? `${errorText(error)} Trying again…`
            : known ? OFFLINE_KNOWN : OFFLINE_UNKNOWN);
          await pauseUntilOnline(5000);
          if (stopped) return;
        }
      }
      setText(reading, "");
      await knowPolicy();
      if (stopped) return;
      shown.read(loaded);
      showTalk(loaded); // (says a kept rating another page sent and the service refused)
      resend();
      if (talk.summary) histogram.update(talk.summary);
      // An organiser's change comes over the channel: the title, room, times and stars
      // follow it at once; a removal is said as a tap would find it.
      const watcher = await watchTalk(talk, histogram, {
        catalog: shown,
        onStatus: badge.set,
        // (once removed, the page keeps listening: the talk added again brings it back)
        onTalk: (changed) => (stopped ? changed && comeBack() : changed ? showTalk(changed) : notFound(true)),
        onRead: followed.onRead,
        onFailed: () => followed.failed(),
      });
      if (stopped) watcher.stop();
      else live = watcher;
    } catch (error) {
      // (a 400: an address no talk can have, which no organiser can add: not looked for)
      if (notInProgramme(error)) notFound(false, error.status !== 400);
      else say(errorText(error));
    }
  })();

  // The talk is not in the programme (`gone`: no longer, an organiser removed it while the page
  // was open): said in place of the page, whose stars could only be refused; what the page
  // runs stops, and the keyboard goes to what it says.
  // An organiser may add it (again: an undone removal), or the attendee scanned the code before
  // it was added: the page looks for it every 30 s, and hears it added on the live channel
  // when it was open before (as the room screen does), then shows it as if opened anew.
  function notFound(gone, mayBeAdded = true) {
    if (stopped) return; // the attendee has moved on: the page shown now is another's
    halt(true);
    takeRefused(talkId); // a kept rating refused as gone: this says more
    document.title = "Talk not found · talkrate";
    const heading = h("h1", { tabindex: "-1" }, gone ? "This talk is no longer in the programme" : "This talk is not in the programme");
    fill(main, heading,
      gone ? h("p", {}, "An organiser removed it: ratings are no longer taken. This page shows it again if it comes back.") : null,
      h("p", {}, h("a", { href: "/app/" }, "See the programme")));
    if (gone) heading.focus();
    if (!mayBeAdded) return;
    const look = () => get(talkPath(talkId)).then(comeBack, () => {
      if (!left && !revived) comebackTimer = setTimeout(look, COMEBACK_MS);
    });
    comebackTimer = setTimeout(look, COMEBACK_MS);
    if (!gone) {
      watchForTalk(talkId, shown, comeBack).then((watcher) => {
        if (left || revived) watcher.stop();
        else live = watcher;
      }, () => {});
    }
  }

  // The talk is in the programme again: the page drawn anew in place (what it stops on leaving
  // is then the new page's).
  function comeBack() {
    if (left || revived) return;
    clearTimeout(comebackTimer);
    live.stop();
    fill(main);
    revived = talkPage(main, talkId);
  }

  function loadTalk() {
    return get(talkPath(talkId));
  }

  // The talk's title and speakers as this phone last read them, until it is read (the heading
  // said "Loading…" for as long as the phone was offline): whether it knew them.
  function showKnown() {
    if (talk) return true;
    const known = knownTalk(talkId);
    if (!known) {
      if (!navigator.onLine) setText(title, "Rate this talk");
      return false;
    }
    document.title = `${isolatedText(known.title)} · talkrate`;
    setText(title, known.title);
    setLang(title, known.language);
    title.classList.toggle("long", known.title.length > 80);
    fill(directLine(meta, known.speakers), known.speakers.length
      ? h("span", { dir: lineDirection(known.speakers), lang: known.language }, speakerList(known.speakers, known.language)) : null);
    metaShown = null; // (the read draws its own line)
    fitTitle();
    return true;
  }

  function showTalk(loaded) {
    talk = loaded;
    rememberTalks([loaded]);
    document.title = `${isolatedText(talk.title)} · talkrate`;
    setText(title, talk.title);
    setLang(title, talk.language);
    title.classList.toggle("long", talk.title.length > 80);
    // "Fri 4 Dec 19:30–20:15 CET"; each end with its zone when a clock change comes between.
    const zone = formatZone(talk.startsAt);
    const until = talk.endsAt ? `–${formatTime(talk.endsAt)}` : "";
    const schedule = !talk.startsAt ? null : (formatZone(talk.endsAt) || zone) === zone
      ? `${when(talk.startsAt)}${until} ${zone}` : `${zoned(talk.startsAt)}${until} ${formatZone(talk.endsAt)}`;
    const names = (talk.speakers || []).join(", ");
    // Drawn again only when it changed: the talk is read again at its window's edges.
    const metaKey = JSON.stringify([talk.speakers, talk.language, talk.track, talk.room, schedule]);
    if (metaShown !== metaKey) {
      metaShown = metaKey;
      // The speakers run as on the programme's card: all right-to-left, the first on the right.
      const speakers = names ? h("span", { dir: lineDirection(talk.speakers), lang: talk.language }, speakerList(talk.speakers, talk.language)) : null;
      fill(directLine(meta, [...(talk.speakers || []), talk.track, talk.room, schedule]),
        isolated([speakers, talk.track, talk.room, schedule], " · "));
    }
    showWindow();
    fitTitle();
  }

  // After a 409, and while the stars are off, the talk's times may have changed (an organiser
  // moved it): read them again. A read older than what the page shows (an organiser's save,
  // pushed while it was on its way) is dropped: the stars follow the clock its answer set.
  async function reloadTalk() {
    if (!talk) return;
    const gone = shown.sent();
    try {
      const loaded = await loadTalk();
      if (stopped) return;
      if (shown.read(loaded)) showTalk(loaded);
      else showWindow();
    } catch (error) {
      // Removed meanwhile: said (a rating kept for the network would only be refused), unless
      // the talk was added again since the read was sent (newestShown). Else a 409's message is
      // already shown, and the next check tries again.
      if (!stopped && error instanceof ApiError && error.status === 404 && gone()) notFound(true);
    }
  }

  // (`listening`: the live channel kept, to hear the talk added again: see notFound)
  function halt(listening = false) {
    stopped = true;
    followed.stop();
    release();
    clearInterval(windowTimer);
    clearTimeout(retryTimer);
    clearTimeout(edgeTimer);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("storage", onStorage);
    window.removeEventListener("online", resend);
    removeEventListener("resize", refit);
    if (!listening) live.stop();
    announcer.stop();
  }
  return () => {
    left = true;
    clearTimeout(comebackTimer);
    if (revived) revived();
    else if (!stopped) halt();
    else live.stop();
  };
}
