// /app/: the programme, searchable, filterable by track; talks running now first, talks whose
// rating has closed last.
import { h, fill, setText, plural, formatAvg, talkHref, debounce } from "../dom.js";
import { allTalks } from "../api.js";
import { watch, LEADERBOARD_CHANNEL } from "../live.js";
import { isRunning, errorText, tracksOf, trackSelect } from "./common.js";
import { ratingClosed, when } from "../window.js";

function matches(talk, words, track) {
  if (track && talk.track !== track) return false;
  const text = [talk.title, talk.track, talk.room, ...(talk.speakers || [])].join(" ").toLowerCase();
  return words.every((word) => text.includes(word));
}

function order(a, b) {
  const now = Date.now();
  const running = Number(isRunning(b, now)) - Number(isRunning(a, now));
  if (running) return running;
  // Then the talks an attendee can still rate, before those whose rating has closed.
  const closed = Number(ratingClosed(a, now)) - Number(ratingClosed(b, now));
  if (closed) return closed;
  // Then by start time, talks without one last, then by title.
  const startA = Date.parse(a.startsAt) || Infinity;
  const startB = Date.parse(b.startsAt) || Infinity;
  if (startA !== startB) return startA < startB ? -1 : 1;
  return a.title.localeCompare(b.title);
}

function card(talk) {
  const summary = talk.summary || { count: 0, avg: null };
  const schedule = talk.startsAt ? when(talk.startsAt) : null;
  return h("li", { class: "talk-card" },
    h("h2", {}, h("a", { href: talkHref(talk.id) }, talk.title)),
    (talk.speakers || []).length ? h("p", { class: "speakers" }, talk.speakers.join(", ")) : null,
    h("p", { class: "meta" },
      isRunning(talk) ? h("span", { class: "now" }, "Now") : null,
      [talk.track, talk.room, schedule].filter(Boolean).join(" · ")),
    ratingClosed(talk, Date.now()) ? h("p", { class: "closed-tag" }, "Rating closed") : null,
    h("p", { class: "score" },
      h("span", { class: "stars" },
        h("span", { "aria-hidden": "true" }, `★ ${formatAvg(summary.avg)}`),
        h("span", { class: "sr-only" }, summary.avg === null || summary.avg === undefined ? "no average yet" : `average ${formatAvg(summary.avg)}`)),
      h("span", {}, plural(summary.count, "rating", "ratings"))));
}

export function programmePage(main) {
  document.title = "Programme · talkrate";
  const params = new URLSearchParams(location.search);
  let talks = [];
  let query = params.get("q") || "";
  let track = params.get("track") || "";

  const status = h("p", { class: "muted", role: "status" }, "Loading the programme…");
  const list = h("ul", { class: "talks" });
  const search = h("input", {
    id: "search", type: "search", value: query, autocomplete: "off",
    placeholder: "Title, speaker, room…",
    oninput: debounce(() => {
      query = search.value;
      show();
    }, 120),
  });
  const trackBox = h("span", { class: "field" });
  fill(main,
    h("h1", {}, "Programme"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("span", { class: "field" }, h("label", { for: "search" }, "Search talks"), search),
      trackBox),
    status,
    list);

  function remember() {
    const next = new URLSearchParams();
    if (query) next.set("q", query);
    if (track) next.set("track", track);
    const suffix = next.toString();
    history.replaceState(null, "", `/app/${suffix ? `?${suffix}` : ""}`);
  }

  function drawTracks() {
    fill(trackBox,
      h("label", { for: "track" }, "Track"),
      trackSelect("track", tracksOf(talks), track, (value) => {
        track = value;
        show();
      }));
  }

  let drawn = null;
  function show() {
    remember();
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = talks.filter((talk) => matches(talk, words, track)).sort(order);
    // Redrawn only when something changed: a refresh must not take the keyboard focus away.
    const key = JSON.stringify(shown.map((t) => [t, isRunning(t), ratingClosed(t, Date.now())]));
    if (key !== drawn) fill(list, shown.map(card));
    drawn = key;
    setText(status, shown.length === talks.length
      ? plural(talks.length, "talk", "talks")
      : `${plural(shown.length, "talk", "talks")} of ${talks.length}`);
  }

  const refresh = async () => {
    try {
      const fresh = await allTalks();
      const tracksChanged = tracksOf(fresh).join("\n") !== tracksOf(talks).join("\n") || !trackBox.firstChild;
      talks = fresh;
      if (tracksChanged) drawTracks();
      show();
    } catch (error) {
      setText(status, errorText(error));
      throw error;
    }
  };
  const later = debounce(refresh, 500);
  const live = watch({ channel: LEADERBOARD_CHANNEL, refresh, onEvent: () => later(), pollMs: 15000 });
  // "Now" and "Rating closed" follow the clock, not only the updates: redrawn when they change.
  const clock = setInterval(() => talks.length && show(), 30_000);
  return () => {
    clearInterval(clock);
    live.stop();
  };
}
