// /app/: the programme, searchable, filterable by track and, when it runs over several days, by
// day; talks running now first, then those just over, then those to come, talks whose rating has
// closed last (see `order`).
import { h, fill, plural, formatAvg, talkHref, arrange, isolated, lineDirection, speakerList, dayOf, formatDay } from "../dom.js";
import { serviceNow } from "../api.js";
import { watchCatalogue } from "../live.js";
import { isRunning, errorText, tracksOf, trackChoice, searchBox, settledLine, searchWords, matchesSearch, shownOf, staleNotice, liveBadge, countsNotice, countsFollowed, failedOffline, LISTED_COUNTS } from "./common.js";
import { ratingClosed, zoned, atNextEdge } from "../window.js";
import { rememberTalks } from "../known.js";
import { wallOf, instantOf } from "../zone.js";

// The day a talk is on where times are shown (the venue's, else the device's): its start's, or
// its end's when it has only an end; null on no timetable.
function dayOfTalk(talk) {
  const at = Date.parse(talk.startsAt) || Date.parse(talk.endsAt);
  return Number.isFinite(at) ? dayOf(at) : null;
}

function matches(talk, words, track, day) {
  return (!track || talk.track === track) && (!day || dayOfTalk(talk) === day) && matchesSearch(talk, words);
}

// The days of the programme, in order, each with an instant of it to name it by.
function daysOf(talks) {
  const days = new Map();
  for (const talk of talks) {
    const day = dayOfTalk(talk);
    if (day && !days.has(day)) days.set(day, talk.startsAt || talk.endsAt);
  }
  return [...days].sort(([a], [b]) => a.localeCompare(b));
}

// The choice of a day ("Mon, Dec 7", today's said so), shown when the talks it is given (the
// programme's, or the chosen track's) run over more than one (or the address names one); its
// element and its options kept as the programme changes live, as the track's are (see
// trackChoice).
function dayChoice(id, onChange) {
  const select = h("select", { id, onchange: () => onChange(select.value) });
  const node = [h("label", { for: id }, "Day"), select];
  return {
    node,
    set(talks, selected) {
      const days = daysOf(talks);
      if (selected && !days.some(([day]) => day === selected)) days.push([selected, null]);
      const today = dayOf(serviceNow());
      const label = (day, at) => {
        const name = at ? formatDay(at) : day;
        return day === today ? `Today, ${name}` : name;
      };
      const wanted = [["", "Every day"], ...days.map(([day, at]) => [day, label(day, at)])];
      const same = wanted.length === select.options.length &&
        wanted.every(([value, text], i) => select.options[i].value === value && select.options[i].text === text);
      if (!same) select.replaceChildren(...wanted.map(([value, text]) => h("option", { value }, text)));
      select.value = selected;
      return days.length > 1 || Boolean(selected);
    },
  };
}

// A talk over since less than this is "just over": an attendee leaving its room looks for it to
// rate it, before what comes next.
const JUST_OVER_MS = 2 * 60 * 60 * 1000;

// What an attendee looks for first: the talks running now, then those just over that still take
// ratings (the latest first), then those to come (by start), then those over earlier that still
// take ratings (the latest first), then talks without times (always open, but on no timetable),
// then those whose rating closed.
function rank(talk, now) {
  if (isRunning(talk, now)) return 0;
  if (ratingClosed(talk, now)) return 5;
  const starts = Date.parse(talk.startsAt);
  const ends = Date.parse(talk.endsAt);
  if (starts > now) return 2;
  // An end without a start (the API takes one: open until then): to come, by its end.
  if (!talk.startsAt && ends > now) return 2;
  if (!talk.startsAt && !talk.endsAt) return 4;
  return now - (Number.isFinite(ends) ? ends : starts) < JUST_OVER_MS ? 1 : 3;
}

function order(a, b) {
  const now = serviceNow();
  const group = rank(a, now);
  const other = rank(b, now);
  if (group !== other) return group - other;
  // Running and upcoming talks by start; the ones over, the most recently ended first.
  const at = (talk) => Date.parse(talk.startsAt) || Date.parse(talk.endsAt) || 0;
  const early = group === 0 || group === 2 ? at(a) - at(b) : (Date.parse(b.endsAt) || at(b)) - (Date.parse(a.endsAt) || at(a));
  return early || a.title.localeCompare(b.title);
}

// What an attendee opening the programme mid-conference looks for: the talks on now, and in
// each room (talks without one counted as one room) the talk that comes next there, later the
// same day where times are shown (the venue's, see zone.js): the first talk of tomorrow is not
// "next" at tonight's party. Over every talk, not only those a search or track shows: a talk
// next in its room is so whatever else is filtered out. `on` and `next`: sets of talk ids.
function nowAndNext(talks, now) {
  const on = new Set();
  const first = new Map(); // room -> the earliest start to come today
  const today = dayOf(now);
  for (const talk of talks) {
    if (isRunning(talk, now)) on.add(talk.id);
    const starts = Date.parse(talk.startsAt);
    if (!(starts > now) || dayOf(starts) !== today) continue;
    const room = talk.room || "";
    if (!(first.get(room) <= starts)) first.set(room, starts);
  }
  const next = new Set(talks.filter((talk) => !on.has(talk.id) && Date.parse(talk.startsAt) === first.get(talk.room || "")).map((talk) => talk.id));
  return { on, next };
}

// The instant the day where times are shown ends (its next midnight there): "next" is of today.
function endOfDay(now) {
  const DAY = 86_400_000;
  const midnight = Math.floor(wallOf(now) / DAY) * DAY + DAY;
  return instantOf(midnight) ?? now + 3_600_000; // (a midnight the clocks skip: an hour on)
}

// A card's mark: "Now" or "Next", in words (not colour alone), a screen reader hearing which,
// apart from the track's name that follows ("On now: Testing", not "Now Testing").
const MARKS = {
  now: () => h("span", { class: "now" }, h("span", { "aria-hidden": "true" }, "Now"), h("span", { class: "sr-only" }, "On now:")),
  next: () => h("span", { class: "next" }, h("span", { "aria-hidden": "true" }, "Next"), h("span", { class: "sr-only" }, "Next in its room:")),
};

// A talk's card; its score line is updated in place (see `score`), the rest redrawn when it changes.
// `mark`: "now", "next" or null (see nowAndNext).
function card(talk, mark) {
  const schedule = talk.startsAt ? zoned(talk.startsAt) : talk.endsAt ? `until ${zoned(talk.endsAt)}` : null;
  const score = h("p", { class: "score" });
  const node = h("li", { class: mark ? `talk-card ${mark}-card` : "talk-card" },
    h("h2", { lang: talk.language }, h("a", { href: talkHref(talk.id) }, talk.title)),
    (talk.speakers || []).length ? h("p", { class: "speakers", dir: lineDirection(talk.speakers), lang: talk.language }, speakerList(talk.speakers, talk.language)) : null,
    h("p", { class: "meta", dir: lineDirection([talk.track, talk.room, schedule]) },
      mark ? MARKS[mark]() : null,
      isolated([talk.track, talk.room, schedule], " · ")),
    ratingClosed(talk, serviceNow()) ? h("p", { class: "closed-tag" }, "Rating closed") : null,
    score);
  return { node, score };
}

function scoreOf(talk, said) {
  // Listed without its summary: not "0 ratings"; why (the service recounts them, or cannot
  // read them just now) is said once above the list, not on each card.
  // A talk marked `unavailable` (its counts alone unreadable: a lost part of the service's
  // store) says so on its card, the others' counts shown.
  if (!talk.summary) return said && !talk.unavailable ? null : h("span", { class: "muted" }, "Ratings not available just now");
  const summary = talk.summary;
  return [
    h("span", { class: "stars" },
      h("span", { "aria-hidden": "true" }, `★ ${formatAvg(summary.avg, summary.ratings)}`),
      h("span", { class: "sr-only" }, summary.avg === null || summary.avg === undefined ? "no average yet" : `average ${formatAvg(summary.avg, summary.ratings)}`)),
    h("span", {}, plural(summary.count, "rating", "ratings")),
  ];
}

// "Jump to now": over the list, kept in view as it scrolls (app.css), shown while the first
// card on now (else the first next) is out of view: it brings that card into view and its link
// the keyboard's focus. Taking no room of its own, it moves nothing as it comes and goes.
function jumpToNow() {
  let target = null;
  const button = h("button", { type: "button", class: "jump-now", hidden: true, onclick: () => {
    if (!target) return;
    target.scrollIntoView({ block: "start", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    target.querySelector("a").focus({ preventScroll: true });
  } }, "Jump to now");
  const seen = new IntersectionObserver((entries) => {
    const entry = entries.filter((one) => one.target === target).pop();
    if (entry) button.hidden = entry.isIntersecting;
  });
  return {
    node: h("div", { class: "jump-box" }, button),
    follow(card) {
      if (card === target) return;
      if (target) seen.unobserve(target);
      target = card;
      if (target) {
        button.textContent = target.classList.contains("now-card") ? "Jump to now" : "Jump to next";
        seen.observe(target);
      }
      else button.hidden = true;
    },
    stop: () => seen.disconnect(),
  };
}

// The catalogue last read: the page drawn again (Back from a talk) shows it at once, so Back finds
// the attendee's place; a read follows at once.
let lastRead = [];
let lastReadAt = 0; // when it was read

export function programmePage(main) {
  document.title = "Programme · talkrate";
  const params = new URLSearchParams(location.search);
  let talks = lastRead;
  let query = params.get("q") || "";
  let track = params.get("track") || "";
  let day = params.get("day") || "";

  const status = h("p", { class: "muted", role: "status", "data-testid": "programme-line" }, "Loading the programme…");
  const line = settledLine(status); // what it says, written once a search's typing pauses
  // Whether the scores shown move by themselves (live), by the page's polling, or not at all
  // (offline), as on the other pages that follow ratings.
  const badge = liveBadge();
  // A read that failed while talks are shown (see staleNotice): the count line is redrawn
  // every 30 s and by a search.
  const stale = staleNotice("programme", "programme-stale", lastReadAt);
  // The service recounting every talk's ratings (see recounted), or unable to read them (see
  // unreadable): said once, read again soon (backing off while they cannot be read).
  const recount = countsNotice(LISTED_COUNTS);
  let explained = false; // why cards come without their scores is said above the list
  const followed = countsFollowed(recount, badge, () => live.read().catch(() => {}));
  const list = h("ul", { class: "talks" });
  const search = searchBox("search", query, "Title, speaker, room…", (text) => {
    query = text;
    line.typed();
    show();
  });
  const trackBox = h("span", { class: "field" });
  const dayBox = h("span", { class: "field day-field" });
  const jump = jumpToNow();
  fill(main,
    h("h1", {}, "Programme"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("span", { class: "field" }, h("label", { for: "search" }, "Search talks"), search),
      trackBox,
      dayBox),
    h("div", { class: "list-head" }, status, badge.node),
    badge.said,
    stale.node,
    recount.node,
    jump.node,
    list);

  function remember() {
    const next = new URLSearchParams();
    if (query) next.set("q", query);
    if (track) next.set("track", track);
    if (day) next.set("day", day);
    const suffix = next.toString();
    history.replaceState(history.state, "", `/app/${suffix ? "?" + suffix : ""}${location.hash}`);
  }

  // Shown once the talks are read; its options then follow theirs in place.
  const tracks = trackChoice("track", (value) => {
    track = value;
    show();
  });
  function drawTracks() {
    tracks.set(tracksOf(talks), track);
    if (!trackBox.firstChild) fill(trackBox, tracks.node);
  }
  const days = dayChoice("day", (value) => {
    day = value;
    show();
  });
  // (drawn at each show: the days follow the talks and the track chosen, whose days alone are
  // offered, and "Today" the clock)
  function drawDays() {
    const shown = days.set(track ? talks.filter((talk) => talk.track === track) : talks, day);
    if (shown && !dayBox.firstChild) fill(dayBox, days.node);
    else if (!shown && dayBox.firstChild) dayBox.replaceChildren();
  }

  // Cards are kept per talk and only what changed is redrawn: a rating elsewhere (every few
  // seconds during a conference) updates a score in place and never takes the keyboard focus
  // or a screen reader's place away.
  const cards = new Map(); // talk id -> { key, node, score, scoreKey }
  let edgeTimer = null;
  function show() {
    remember();
    drawDays();
    const words = searchWords(query);
    const shown = talks.filter((talk) => matches(talk, words, track, day)).sort(order);
    const now = serviceNow();
    const marks = nowAndNext(talks, now);
    const markOf = (talk) => (marks.on.has(talk.id) ? "now" : marks.next.has(talk.id) ? "next" : null);
    const nodes = shown.map((talk) => {
      const mark = markOf(talk);
      const key = JSON.stringify([talk.title, talk.speakers, talk.language, talk.track, talk.room, talk.startsAt, mark, ratingClosed(talk, now)]);
      let kept = cards.get(talk.id);
      if (!kept || kept.key !== key) {
        kept = { key, ...card(talk, mark), scoreKey: null };
        cards.set(talk.id, kept);
      }
      const summary = talk.summary || {};
      const scoreKey = JSON.stringify([Boolean(talk.summary) || explained, talk.unavailable === true, summary.count, summary.avg]);
      if (kept.scoreKey !== scoreKey) {
        fill(kept.score, scoreOf(talk, explained));
        kept.scoreKey = scoreKey;
      }
      return kept.node;
    });
    const ids = new Set(talks.map((talk) => talk.id));
    for (const id of [...cards.keys()]) if (!ids.has(id)) cards.delete(id);
    arrange(list, nodes);
    jump.follow(list.querySelector(".now-card") || list.querySelector(".next-card"));
    // ...and at the next start, end or close of any talk (a talk's "Next" follows the start of
    // the one before it in its room, shown or not), or at midnight where times are shown (the
    // next day's first talks become next): one timer, to the next of them, on time.
    clearTimeout(edgeTimer);
    edgeTimer = atNextEdge([...talks, { endsAt: new Date(endOfDay(now)).toISOString() }], now, show);
    // Never read: the line says it loads, or why it could not be read, whatever is searched.
    if (!lastReadAt) return;
    if (talks.length && !shown.length) {
      // Nothing matches: say so, and offer the way back to the whole programme (said again,
      // and the button made anew, only when the search or the track changes).
      const matching = query.trim() ? ` “${query.trim()}”` : "";
      const inTrack = track ? ` in ${track}` : "";
      const at = daysOf(talks).find(([one]) => one === day)?.[1];
      const onDay = day ? ` on ${at ? formatDay(at) : day}` : "";
      line.say(`No talk matches${matching}${inTrack}${onDay}. `,
        h("button", { type: "button", class: "link", onclick: clearFilters }, "Show all talks"));
      return;
    }
    line.say(shownOf(shown.length, talks.length));
  }

  function clearFilters() {
    query = "";
    track = "";
    day = "";
    search.value = "";
    drawTracks();
    show();
    search.focus();
  }

  // The catalogue kept current (see watchCatalogue): a rating elsewhere moves a card's score
  // from the leaderboard message, an organiser's change (a talk added, edited or removed) shows
  // as its catalog message comes (within 15 s without a live channel).
  if (talks.length) {
    drawTracks();
    show();
  }
  const live = watchCatalogue({
    talks,
    onTalks: (fresh, { read = false, rebuilding = false, unavailable = false } = {}) => {
      const tracksChanged = tracksOf(fresh).join("\n") !== tracksOf(talks).join("\n") || !trackBox.firstChild;
      talks = lastRead = fresh;
      // (a pushed change or count is not a read: a failed read's line stays)
      if (read) {
        rememberTalks(fresh); // (their titles, for a talk page opened offline later)
        lastReadAt = stale.read();
        explained = rebuilding || unavailable;
        // (only some talks unreadable, the others counted: a lost part of the store)
        const some = unavailable && fresh.some((t) => t.summary) ? fresh.filter((t) => t.unavailable === true).length : 0;
        followed.onRead({ rebuilding, unavailable, some });
      }
      if (tracksChanged) drawTracks();
      show();
    },
    onFailed: (error) => {
      followed.failed();
      if (talks.length) stale.failed(error);
      // (offline: shown, the badge's region says it; said too, it was heard twice)
      else if (failedOffline(error)) line.show(errorText(error));
      else line.say(errorText(error));
    },
    onStatus: badge.set,
    pollMs: 15000,
  });
  // "Now", "Next" and "Rating closed" follow the clock, not only the updates: redrawn at their
  // next edge (show's one timer), and when the page is seen again (a phone out of a pocket: a
  // timer of a sleeping device or a hidden tab may come late), not every 30 s.
  const onVisible = () => document.visibilityState === "visible" && talks.length && show();
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    document.removeEventListener("visibilitychange", onVisible);
    jump.stop();
    clearTimeout(edgeTimer);
    line.stop();
    followed.stop();
    live.stop();
  };
}
