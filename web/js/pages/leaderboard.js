// /app/leaderboard: the best talks (Bayesian average), live, with a track filter.
import { h, fill, setText, formatAvg, talkHref, debounce } from "../dom.js";
import { get, allTalks } from "../api.js";
import { watch, LEADERBOARD_CHANNEL } from "../live.js";
import { liveBadge, errorText, tracksOf, trackSelect } from "./common.js";

const SIZE = 20;

export function leaderboardPage(main) {
  document.title = "Leaderboard · talkrate";
  let track = new URLSearchParams(location.search).get("track") || "";
  const badge = liveBadge();
  const status = h("p", { class: "muted", role: "status" });
  const body = h("tbody");
  const trackBox = h("span", { class: "field" });
  fill(main,
    h("h1", {}, "Leaderboard"),
    h("form", { class: "filters single", onsubmit: (e) => e.preventDefault() }, trackBox),
    h("table", { class: "board" },
      h("caption", { class: "sr-only" }, "Best rated talks, best first"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "rank" }, "#"),
        h("th", { scope: "col" }, "Talk"),
        h("th", { scope: "col", class: "num" }, "Average"),
        h("th", { scope: "col", class: "num" }, "Ratings"))),
      body),
    status, badge.node);

  let drawn = null;
  // Reads overlap (a live message, a reconnection, a new track): only the newest one started
  // may draw, so a slow read of an older state (or of the track before) never replaces it.
  let started = 0;
  const refresh = async () => {
    const read = ++started;
    try {
      const query = new URLSearchParams({ limit: String(SIZE) });
      if (track) query.set("track", track);
      const board = await get(`/leaderboard?${query}`);
      if (read !== started) return;
      const key = JSON.stringify(board.talks);
      if (key !== drawn) {
        fill(body, board.talks.map((row) => h("tr", {},
          h("td", { class: "rank" }, String(row.rank)),
          h("td", {}, h("a", { href: talkHref(row.talkId) }, row.title),
            row.track ? h("span", { class: "muted track-name" }, ` ${row.track}`) : null),
          h("td", { class: "num" }, formatAvg(row.avg)),
          h("td", { class: "num" }, String(row.count)))));
        drawn = key;
      }
      setText(status, board.talks.length ? "" : "No talk has been rated yet.");
    } catch (error) {
      if (read === started) setText(status, errorText(error));
      throw error;
    }
  };

  allTalks().then((talks) => {
    fill(trackBox, h("label", { for: "track" }, "Track"),
      trackSelect("track", tracksOf(talks), track, (value) => {
        track = value;
        history.replaceState(null, "", `/app/leaderboard${track ? `?track=${encodeURIComponent(track)}` : ""}`);
        refresh().catch(() => {});
      }));
  }).catch(() => {});

  const later = debounce(() => refresh().catch(() => {}), 300);
  const live = watch({ channel: LEADERBOARD_CHANNEL, refresh, onEvent: later, onStatus: badge.set, pollMs: 3000 });
  return () => live.stop();
}
