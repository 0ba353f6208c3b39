// /app/leaderboard: the best talks (Bayesian average), live, with a track filter.
import { h, fill, setText, formatZoned, formatAvg, formatScores, formatCount, talkHref, debounce, arrange, quoted } from "../dom.js";
import { get, allTalks, readsInOrder, countsUnreadable } from "../api.js";
import { watch, LEADERBOARD_CHANNEL } from "../live.js";
import { liveBadge, errorText, tracksOf, trackChoice, staleNotice, REBUILD_READ_MS, recounted, unreadable, unreadableRetries } from "./common.js";
import { liveAnnouncer } from "../announce.js";

const SIZE = 20;
// The numbers of rows the big screen's board is sized for (fitScreen).
const STEPS = [7, 10, 14, SIZE];
// On a hall's big screen (?view=screen) the board is read every 20 s while live, as a room
// screen's figures are, where a page reads it every minute: a live channel stalled without
// closing left the hall's board that far behind under "Live".
const SCREEN_CHECK_MS = 20_000;

// What a screen reader hears of the board: who leads, and the two after ("“A” leads the board,
// then “B” and “C”."). Only the order of the top three, not the counts or averages, which move
// at every rating anywhere: a new leader, or a new second or third, is news. Not their titles
// either: an organiser retitling a talk (a catalog message reads the board again) is no news.
// Talks of one score share a rank (1, 1, 3): a shared lead is said as one ("“A” and “B” are
// tied for the lead, then “C”."). Each title in its language (its lang), as on the board: a
// Hebrew title read by the English voice is noise.
function leaders(talks) {
  const top = talks.slice(0, 3);
  if (!top.length) return "";
  const names = top.map((row) => quoted(row.title, row.language));
  const joined = (some) => some.flatMap((name, i) => (i ? [" and ", ...name] : name));
  const tied = top.filter((row) => row.rank === talks[0].rank).length;
  // More than three tied: said as such, not as a complete list of three.
  const more = talks.filter((row) => row.rank === talks[0].rank).length - tied;
  const others = more > 0 ? [` and ${more} more`] : [];
  const [lead, next] = tied > 1
    ? [[...joined(names.slice(0, tied)), ...others, " are tied for the lead"], names.slice(tied)]
    : [[...names[0], " leads the board"], names.slice(1)];
  return [...lead, ...(next.length ? [", then ", ...joined(next)] : []), "."];
}

export function leaderboardPage(main) {
  document.title = "Leaderboard · talkrate";
  const params = new URLSearchParams(location.search);
  let track = params.get("track") || "";
  // On a hall's big screen (?view=screen, linked from the board): the room screen's display mode,
  // every size a part of the screen's width, read from across the hall; no choice of track to
  // make there (the address names one), nothing of the site's bar.
  const onScreen = params.get("view") === "screen";
  // The board's address, of a track and in a view (the track as encodeURIComponent writes it).
  const address = (screen = onScreen) => {
    const query = [track ? `track=${encodeURIComponent(track)}` : "", screen ? "view=screen" : ""].filter(Boolean).join("&");
    return query ? `/app/leaderboard?${query}` : "/app/leaderboard"; // (not nested: see web_assets.py)
  };
  if (onScreen) document.body.classList.add("screen-mode", "board-screen");
  // The board's own link to that view, of the track chosen.
  const screenLink = h("a", { class: "screen-link" }, "Show it on a big screen");
  const linkScreen = () => {
    screenLink.href = address(true);
  };
  linkScreen();
  // Said to a screen reader at most once a minute, as on the room screen (announce.js): a
  // board that moves at a busy conference's pace would otherwise talk over everything else.
  const announcer = liveAnnouncer(60_000);
  const badge = liveBadge(announcer);
  const status = h("p", { class: "muted", role: "status" });
  // A read that failed while a board is shown: said with the time the board shown was read
  // (see staleNotice), as on the programme.
  const stale = staleNotice("leaderboard", "leaderboard-stale");
  // That the board shown is being recounted, or that its counts cannot be read, where the
  // announcer says so before its leaders (the badge's "Recounting", "Paused"), or the pause was
  // said at a read before: a line shown, not a status line (said on both, it was heard twice).
  const held = h("p", { class: "notice", "data-testid": "leaderboard-held" });
  const body = h("tbody");
  const trackBox = h("span", { class: "field" });
  const boardBox = h("div", { class: "table-scroll board-box" });
  fill(main,
    h("h1", {}, "Leaderboard"),
    // The order is the service's weighted score, shown beside the average and said, so that a
    // 3.66 above a 3.70 (or a single 2 above many 2.3s) reads as the rule it is.
    h("p", { class: "muted" },
      "Ranked by score, a weighted average: until a talk has many ratings, its score is pulled towards 3, so a few high ratings do not outrank many good ones."),
    onScreen ? null : h("form", { class: "filters single", onsubmit: (e) => e.preventDefault() }, trackBox),
    // Scrolls on its own if ever wider than the phone (text enlarged 200%), never the page.
    fill(boardBox, h("table", { class: "board" },
      h("caption", { class: "sr-only" }, "Best rated talks, best first by score (a weighted average)"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "rank" }, "#"),
        h("th", { scope: "col" }, "Talk"),
        h("th", { scope: "col", class: "num" }, "Score"),
        h("th", { scope: "col", class: "num" }, "Average"),
        h("th", { scope: "col", class: "num" }, "Ratings"))),
      body)),
    status, stale.node, held, badge.node, announcer.node,
    onScreen ? null : h("p", {}, screenLink));

  const rows = new Map(); // talk id -> its row and cells
  // On a hall's big screen the board's rows share the screen's height left under the heading,
  // their text sized to their number (app.css: --rows), so that 7 talks fill the screen as 20
  // do, each as large as the screen's width leaves its title room for. Where even so they do not
  // fit (text enlarged 200% on a 720p screen: the text's floor), the board takes its own height
  // and the page scrolls, titles whole rather than cut ("grown"): measured after each draw, and
  // again when the board's size changes (the window, the text's size: a frame later, as a
  // change made in the observer's own turn would be a loop it reports as an error).
  function fitScreen() {
    if (!onScreen) return;
    const count = Math.max(1, rows.size);
    // Sized in steps, not to the row: a row added (a talk's first rating) leaves the text and
    // the rows as they were, but past 7, 10 and 14 rows (from 8 talks on, the rows fill three
    // quarters of the height at least; fewer, the top of the screen, "few" titles on two lines).
    boardBox.style.setProperty("--rows", String(STEPS.find((most) => count <= most) ?? count));
    boardBox.classList.toggle("few", count <= 7); // (titles may take two lines)
    main.classList.remove("grown");
    if (boardBox.scrollHeight > boardBox.clientHeight + 1) main.classList.add("grown");
  }
  const resized = onScreen ? new ResizeObserver(() => requestAnimationFrame(fitScreen)) : null;
  if (resized) resized.observe(boardBox.firstChild);
  // The attendee has left the board: a read still on its way draws nothing and sets no timer
  // (a failed one would read again by itself, backing off, for as long as the outage lasts).
  let stopped = false;
  let recount = null; // the next read while the board is being recounted, or cannot be read
  let recountedNow = false; // the last board read was being recounted
  let unreadableNow = false; // the last read found the counts unreadable
  const retries = unreadableRetries(); // its reads again meanwhile
  // Reads overlap (a live message, a reconnection, a new track): a read draws only in its turn
  // (readsInOrder) and of the track shown, so a slow read of an older state (or of the track
  // before) never replaces a newer one.
  const reads = readsInOrder();
  const refresh = async () => {
    const read = reads.start();
    const of = track;
    try {
      const query = new URLSearchParams({ limit: String(SIZE) });
      if (of) query.set("track", of);
      const board = await get(`/leaderboard?${query}`);
      if (stopped || of !== track || !read.draws()) return false;
      // Every place of the board unreadable (a lost part of the service's store, a track's talks
      // all on it): nothing shown can move, said as when the whole read finds the counts
      // unreadable ("Paused", and read again backing off), where "Live" stood over a board
      // without counts. Only some: live, the others still move.
      const none = !board.rebuilding && !board.talks.length && Boolean(board.unreadable?.length);
      const wasPaused = unreadableNow; // (said then, by the status line or the announcer)
      unreadableNow = none;
      if (!board.unreadable?.length) retries.reset(); // (places unreadable: read again, backing off)
      badge.unreadable(none);
      badge.recounting(board.rebuilding);
      recountedNow = Boolean(board.rebuilding);
      if (board.rebuilding) {
        // (see recounted) The board shown (if any) kept, said to be of before: on a line of its
        // own while the announcer says the recount (it has leaders to say), else on the status
        // line (the board's first read, a track just chosen).
        const said = recounted("The leaderboard is");
        const shown = rows.size && stale.readAt
          ? ` The leaderboard shown was read at ${formatZoned(new Date(stale.readAt).toISOString())}.` : "";
        if (announcer.saying()) {
          setText(stale.node, "");
          setText(status, "");
          setText(held, `${said}${shown}`);
        } else setText(status, `${said}${shown}`);
        clearTimeout(recount);
        recount = setTimeout(() => refresh().catch(() => {}), REBUILD_READ_MS);
        return false;
      }
      // Whether a talk shown had more ratings than the page showed (see watch's check).
      const news = board.talks.some((row) => rows.has(row.talkId) && row.count > rows.get(row.talkId).shownCount);
      // Rows are kept per talk and updated in place, so the keyboard focus (on a talk's link)
      // stays where it was while the board moves.
      const formatted = formatScores(board.talks, board.prior || null);
      const scoreOf = new Map(board.talks.map((row, i) => [row.talkId, formatted[i]]));
      // Places whose counts could not be read (`unreadable`: a lost part of the service's store)
      // keep their rank among the others, their counts said unavailable, not zero.
      const lost = (board.unreadable || []).map((row) => ({ ...row, unreadable: true }));
      const placed = [...board.talks, ...lost].sort((a, b) => a.rank - b.rank);
      const nodes = placed.map((row) => {
        let kept = rows.get(row.talkId);
        if (!kept) {
          kept = { rank: h("td", { class: "rank" }), talk: h("td", {}), score: h("td", { class: "num", "data-label": "Score" }), avg: h("td", { class: "num", "data-label": "Average" }), count: h("td", { class: "num", "data-label": "Ratings" }), key: null };
          kept.node = h("tr", {}, kept.rank, kept.talk, kept.score, kept.avg, kept.count);
          rows.set(row.talkId, kept);
        }
        setText(kept.rank, String(row.rank));
        setText(kept.score, row.unreadable ? "—" : scoreOf.get(row.talkId));
        setText(kept.avg, row.unreadable ? "—" : formatAvg(row.avg, row.ratings));
        // "25,000", as every other page writes it
        setText(kept.count, row.unreadable ? "unavailable" : formatCount(row.count));
        kept.shownCount = row.unreadable ? kept.shownCount : row.count;
        const key = JSON.stringify([row.title, row.language, row.track]);
        if (kept.key !== key) {
          // (a line of their own: on a hall's big screen, the title and its track side by side)
          fill(kept.talk, h("div", { class: "talk-line" },
            h("a", { href: talkHref(row.talkId), lang: row.language }, row.title),
            row.track ? h("span", { class: "muted track-name" }, ` ${row.track}`) : null));
          kept.key = key;
        }
        return kept.node;
      });
      const ids = new Set(placed.map((row) => row.talkId));
      for (const id of [...rows.keys()]) if (!ids.has(id)) rows.delete(id);
      arrange(body, nodes);
      fitScreen();
      // News: the order of the top three and their ranks (a lead becoming shared, or a tie broken,
      // with the order unchanged). Of the places shown, those whose counts cannot be read at
      // their ranks too: of a board of none readable, nothing was said (the region emptied),
      // where now its order is, after "Paused: the counts cannot be read just now" (badge).
      announcer.figures(leaders(placed), placed.slice(0, 3).map((row) => `${row.rank} ${row.talkId}`).join("\n"));
      // With a track chosen, the board may be empty while other tracks' talks are rated.
      const inTrack = of ? ` in ${of}` : "";
      const unread = lost.length === 1 ? "1 talk's counts" : `${lost.length} talks' counts`;
      // Every place unreadable: said once, by the announcer with the leaders as the pause begins
      // while a board is shown, else by the status line (the board opened so: the announcer
      // says no first figures); shown, not said again, at the reads again meanwhile.
      const paused = none ? unreadable("The counts and averages") : ""; // (errorText's words for it)
      const told = none && (wasPaused || announcer.saying());
      setText(held, told ? paused : "");
      setText(status, told ? "" : none ? paused
        : lost.length ? `${unread} could not be read just now; trying again shortly.`
        : board.talks.length ? "" : `No talk${inTrack} has been rated yet.`);
      if (lost.length) {
        clearTimeout(recount);
        recount = setTimeout(() => refresh().catch(() => {}), retries.next());
      }
      stale.read();
      readTracks();
      return news;
    } catch (error) {
      if (!stopped && read.newest() && of === track) {
        const wasPaused = unreadableNow;
        badge.unreadable(countsUnreadable(error));
        if (rows.size && countsUnreadable(error) && (wasPaused || announcer.saying())) {
          // (the pause, said by the announcer with the leaders shown, or at a read before: the
          // stale line's words shown, not said)
          setText(stale.node, "");
          setText(status, "");
          setText(held, stale.failedWords(error));
        } else {
          setText(held, ""); // (what the read says now: the stale line's)
          if (rows.size) stale.failed(error);
          else setText(status, `${of ? "The board of " + of : "The leaderboard"} could not be read. ${errorText(error)}`);
        }
        if (recountedNow && !countsUnreadable(error)) {
          // (a read again while recounted that failed: read again as that one was, not at the
          // next message or the watch's minute check, "Recounting" said meanwhile)
          clearTimeout(recount);
          recount = setTimeout(() => refresh().catch(() => {}), REBUILD_READ_MS);
        }
        if (countsUnreadable(error)) {
          unreadableNow = true;
          // (see unreadable) Read again by itself, backing off, whatever the live channel does.
          clearTimeout(recount);
          recount = setTimeout(() => refresh().catch(() => {}), retries.next());
        }
      }
      throw error;
    }
  };

  // A board is never shown under another track's name: on a change of track the rows of the
  // board before go, and the line under the table says the chosen one is on its way, then (its
  // read failed) that it could not be read. Kept, they were ranked under the new name as "Live"
  // while its reads failed.
  const choice = trackChoice("track", (value) => {
    track = value;
    announcer.reset({ say: true }); // the chosen track's leaders are said as its board comes
    history.replaceState(null, "", address());
    linkScreen();
    body.replaceChildren();
    rows.clear();
    setText(stale.node, ""); // (what it said of the board before goes with it)
    setText(held, "");
    setText(status, `Loading the board of ${track || "all tracks"}…`);
    refresh().catch(() => {});
  });
  // The tracks to choose from, read from the programme, and again after an organiser's change
  // (a catalog message: a new, renamed or emptied track) with the board's next read. A read that
  // failed (a phone on a hall's Wi-Fi) is tried again after the board's next read that succeeds:
  // the choice of track stayed away for the page's life.
  let tracks = null; // the read on its way or done
  const readTracks = () => {
    tracks ??= allTalks().then((talks) => {
      choice.set(tracksOf(talks), track);
      if (!trackBox.firstChild) fill(trackBox, choice.node);
    }).catch(() => {
      tracks = null;
    });
  };
  readTracks();

  const later = debounce(() => refresh().catch(() => {}), 300);
  const onEvent = (message) => {
    if (message && message.type === "catalog") tracks = null; // read again with the board
    later();
  };
  const live = watch({ channel: LEADERBOARD_CHANNEL, refresh, onEvent, onStatus: badge.set, pollMs: 3000, unreadable: () => unreadableNow, checkMs: onScreen ? SCREEN_CHECK_MS : undefined });
  return () => {
    stopped = true;
    if (resized) resized.disconnect();
    main.classList.remove("grown");
    clearTimeout(recount);
    live.stop();
    announcer.stop();
  };
}
