// /app/talks/<talkId>/screen: the room screen. Big figures, the live histogram and a QR code of
// the talk's page, readable from the back of the room.
import { h, fill, refill, setText, talkHref, debounce, directLine, speakerList, isolatedText, setLang, onLoopback, loopbackWords, quoted, dayOf, formatDay, formatZoned } from "../dom.js";
import { ApiError, get, talkPath, serviceNow, allTalks } from "../api.js";
import { watchTalk, watchForTalk, newestShown } from "../live.js";
import { histogramView } from "../histogram.js";
import { qrSvg } from "../qr.js";
import { liveBadge, errorText, countsNotice, countsFollowed, STORED_COUNTS, sayOrShow, failedOffline } from "./common.js";
import { liveAnnouncer } from "../announce.js";
import { ratingWindow, atNextEdge } from "../window.js";
import { takeNewerVersion } from "../version.js";
import { zoneStale } from "../zone.js";
import { roomFollow } from "../room.js";

// A screen whose figures have not moved for this long is quiet enough to load a newer version.
const QUIET_MS = 10 * 60 * 1000;
// The room's programme is read this often (and at the moment the next talk starts): a talk
// added to the room, moved or removed meanwhile is followed as the programme has it then.
const PROGRAMME_MS = 5 * 60 * 1000;
// While live, the screen reads its figures this often all the same (a page's is a minute): a
// channel that stalls without closing (a hall's Wi-Fi losing its way for half a minute) left the
// room's figures 25 ratings behind under "Live" until the minute's check.
const LIVE_CHECK_MS = 20_000;

// The screen follows its room's programme (room.js): at the start of the room's next talk it
// shows that talk, its address replaced (a reload stays on it), where a screen put up for the
// morning's first talk stayed on its closed figures all day. Talks that started before the
// screen was opened are not followed to.
export function screenPage(main, talkId) {
  let since = null; // when the screen was opened, by the service's clock (its first answer's)
  let stop = () => {};
  const open = (id, known = null) => {
    stop = roomScreen(main, id, known, () => (since ??= serviceNow()), (next) => {
      stop();
      history.replaceState(history.state, "", `${talkHref(next.id)}/screen`);
      open(next.id, next);
    });
  };
  open(talkId);
  return () => stop();
}

// `known`: the talk as the programme was read (the room's next one), shown at once.
function roomScreen(main, talkId, known, opened, onNext) {
  document.title = "Room screen · talkrate";
  document.body.classList.add("screen-mode");
  // Said to a screen reader at most once a minute, not every 15 s as on the talk page: a room
  // screen stays on for the whole talk, watched by the room rather than read by one person,
  // and whoever runs a screen reader on it (setting it up, or a speaker projecting from their
  // own laptop) should not hear it talk over the room every few seconds.
  const announcer = liveAnnouncer(60_000);
  const histogram = histogramView({ big: true, announcer });
  const badge = liveBadge(announcer);
  const pageUrl = `${location.origin}${talkHref(talkId)}`;
  const address = pageUrl.replace(/^https?:\/\//, ""); // shown under the QR code
  const title = h("h1", {}, "Loading…");
  const speakers = h("p", { class: "speakers" });
  // Between the talk's end and the start of the room's next one: which talk comes, and when.
  const nextLine = h("p", { class: "next-talk", "data-testid": "next-talk", hidden: true });
  const problem = h("p", { class: "message", role: "alert" });
  // Why the counts shown are the stored ratings' (see countsNotice): read again until live.
  // (said by the announcer, with the figures: not a status line of its own)
  const counts = countsNotice(STORED_COUNTS, "counts-notice", { live: false });
  const followed = countsFollowed(counts, badge, () => live.refresh().catch(() => {}));
  // What the room is asked to do: scan while the talk takes ratings, else when it will or that it closed.
  // Empty until the talk is read: its rating may not be open, or closed.
  const caption = h("p", { class: "qr-caption", "data-testid": "qr-caption" });
  // Hidden while the talk is not in the programme: nobody is invited to rate what is not there.
  const code = qrSvg(pageUrl, `QR code of ${pageUrl}`);
  const addressLine = h("p", { class: "qr-url", "data-testid": "qr-url", title: address },
    address.split("/").map((part, i) => (i ? [h("wbr"), "/", part] : part)));
  const qrAside = h("aside", { class: "screen-qr", "aria-label": "Rate this talk" }, code, caption, addressLine);
  // Hidden with it: an empty histogram under "not in the programme" reads as a talk nobody rated.
  const results = h("section", { class: "screen-results", "aria-label": "Ratings" },
    histogram.summary, histogram.list);
  // (said of the QR code: hidden with it, for a talk no longer in the programme)
  const loopbackNote = onLoopback() ? h("p", { class: "loopback-note", "data-testid": "loopback-note" }, loopbackWords(true)) : null;
  const head = h("header", { class: "screen-head" }, title, speakers, nextLine);
  const foot = h("footer", { class: "screen-foot" }, badge.node, loopbackNote, counts.node, problem, announcer.node);
  const screen = h("div", { class: "screen" }, head, results, qrAside, foot);
  fill(main, screen);

  let live = { refresh: async () => {}, stop() {} };
  let stopped = false;
  let readTimer = null;
  // A room screen must not go dark mid-talk: hold a screen wake lock while the page is shown
  // (browsers release it when the tab is hidden; it is asked for again when it shows).
  let wakeLock = null;
  const keepAwake = () => {
    if (stopped || document.hidden || !navigator.wakeLock) return;
    navigator.wakeLock.request("screen").then((lock) => {
      wakeLock = lock;
    }).catch(() => {});
  };
  document.addEventListener("visibilitychange", keepAwake);
  keepAwake();

  // The talk as the service has it now: an organiser may retitle it or move its times while the
  // screen is up, and the caption follows its rating window (and the service's clock).
  let talk = null;
  // The newest of its changes shown, read or pushed: a read older than a message that came while
  // it was on its way (an organiser's save or removal) is dropped (live.js).
  const shown = newestShown();
  let missing = false; // the service said the talk is not in the programme (404, 400)
  const now = serviceNow; // the service's clock, which every answer sets
  // The QR code, the histogram and the live state belong to a talk in the programme.
  const inProgramme = (yes) => {
    missing = !yes;
    qrAside.hidden = results.hidden = badge.node.hidden = !yes;
    if (loopbackNote) loopbackNote.hidden = !yes;
    if (!yes) nextLine.hidden = true;
    speakers.classList.toggle("guidance", !yes);
  };
  // 400: an id no talk can have (a link copied with what followed it), not a passing failure.
  const notFound = (error) => error instanceof ApiError && (error.status === 404 || error.status === 400);
  // The caption changes at the window's edges too, not only at the 30 s read.
  let edgeTimer = null;
  let upcoming = null; // the room's next talk, as the programme was last read
  const showNext = () => {
    const ended = Date.parse(talk.endsAt) <= now();
    const starts = upcoming ? Date.parse(upcoming.startsAt) : NaN;
    nextLine.hidden = missing || !ended || !(starts > now());
    if (nextLine.hidden) return;
    // (the day too when it is not today's: a time alone reads as today's)
    const time = dayOf(starts) === dayOf(now()) ? formatZoned(upcoming.startsAt) : `${formatDay(upcoming.startsAt)} ${formatZoned(upcoming.startsAt)}`;
    refill(nextLine, `Next here, ${time}: `, quoted(upcoming.title, upcoming.language));
  };
  const showCaption = () => {
    const [words, ...phrases] = ratingWindow(talk, now()).caption;
    refill(caption, words, phrases.map((phrase) => [" ", h("span", { class: "whole" }, phrase)]));
    clearTimeout(edgeTimer);
    edgeTimer = atNextEdge([talk], now(), showCaption);
    showNext();
  };
  // The room's next talk is looked for when the talk is first shown (and shown again after it
  // was out of the programme), then every PROGRAMME_MS or at that talk's start if sooner.
  let followTimer = null;
  let following = false;
  const follow = async () => {
    clearTimeout(followTimer);
    followTimer = null;
    if (stopped || missing || !talk || following) return;
    let wait = PROGRAMME_MS;
    following = true;
    const since = opened();
    try {
      if (talk.room && talk.startsAt) {
        const followed = roomFollow(await allTalks(), talk, now(), since);
        const { next, at } = followed;
        if (stopped || missing) return;
        if (next) {
          onNext(next);
          return;
        }
        upcoming = followed.upcoming;
        showNext();
        if (at !== null) wait = Math.min(wait, Math.max(0, at - now()) + 1);
      }
    } catch {
      wait = 30_000; // (the programme could not be read: the screen stays as it is meanwhile)
    } finally {
      following = false;
    }
    if (!stopped) followTimer = setTimeout(follow, wait);
  };
  const show = () => {
    inProgramme(true);
    showCaption();
    if (!followTimer && !following) follow();
    document.title = `${isolatedText(talk.title)} · room screen · talkrate`;
    setText(title, talk.title);
    const names = talk.speakers || [];
    refill(directLine(speakers, names), speakerList(names, talk.language)); // (read every 30 s)
    setLang(title, talk.language);
    setLang(speakers, talk.language);
    fit();
  };
  // The boxes of what each part draws: a picture's own, a text's lines (those its element shows:
  // not those a line clamp cuts off); and whether any of one set meets any of another's.
  const drawn = (...parts) => parts.flatMap((part) => {
    const box = part.getBoundingClientRect();
    if (part.localName === "svg") return [box];
    const letters = document.createRange();
    letters.selectNodeContents(part);
    return [...letters.getClientRects()].filter((line) => line.width > 0 && line.top < box.bottom - 1);
  });
  const meet = (these, those) => these.some((a) => those.some((b) =>
    a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1));
  // A title that two lines at the big size would cut takes the smaller size and a third line:
  // measured, not guessed from its length (a 60-letter word needs it, 70 short words may not),
  // and again when the window changes size (a browser dragged onto the projector). If the
  // screen is still taller than the projector (three lines of title over two of speakers), the
  // speakers keep one line, so that nothing scrolls and the live state stays in view; not where
  // one line is not enough for that (the names cut for nothing).
  // Speakers that two lines would cut take a smaller size and up to four lines the same way,
  // and are never cut to one line: it would show the first name or two of six, which is what
  // the smaller size is for. The screen scrolls instead, as wherever else one line is not
  // enough (only text spaced by a reader's own style sheet has needed it: WCAG 1.4.12 asks
  // that nothing be lost to that spacing).
  // Figures that run past their part by more than half the gap around it (1vh) take their own
  // height instead, and the screen grows and scrolls (app.css: .grown): text spaced wider and
  // taller by a reader's own style sheet (WCAG 1.4.12) drew the 1-star row over the live state.
  // Measured again when any part changes size too: such a style sheet may come after the page.
  // Where the QR code or its words, reaching past their place into the gaps (app.css), meet a
  // line of the title, the speakers or the setup note (text enlarged to 200%: the address under
  // the note's first line), they keep to their place and the screen grows instead (.apart).
  // A title still cut at three lines on a screen that scrolls all the same (its text enlarged to
  // 200% by a reader's style sheet: 720p lost half of a three-line title) is shown whole: the
  // cut no longer keeps anything in view, and the title is read nowhere else in the room.
  const place = () => {
    title.classList.remove("long", "whole");
    speakers.classList.remove("many", "one-line");
    screen.classList.remove("grown", "apart");
    if (missing) return;
    if (title.scrollHeight > title.clientHeight + 1) title.classList.add("long");
    if (speakers.scrollHeight > speakers.clientHeight + 1) speakers.classList.add("many");
    if (matchMedia("(max-width: 48rem)").matches) return; // the QR code below: the page scrolls
    const scrolls = () => document.documentElement.scrollHeight > innerHeight;
    if (scrolls() && !speakers.classList.contains("many")) {
      speakers.classList.add("one-line");
      if (scrolls()) speakers.classList.remove("one-line");
    }
    const spill = histogram.list.getBoundingClientRect().bottom - results.getBoundingClientRect().bottom;
    if (spill > innerHeight / 100) {
      screen.classList.add("grown");
      speakers.classList.remove("one-line");
    }
    if (scrolls() && title.scrollHeight > title.clientHeight + 1) title.classList.add("whole");
    if (meet(drawn(code, caption, addressLine), drawn(title, speakers, nextLine, ...(loopbackNote ? [loopbackNote] : [])))) {
      screen.classList.add("apart");
      if (scrolls()) speakers.classList.remove("one-line"); // (cut for nothing now)
    }
  };
  // Measured with the parts' classes taken off, the page is shorter for a moment, and a page
  // scrolled near its end (a phone, a grown screen scrolled to its figures) was moved up by that
  // much at a live update's new figures, though the page came back to its height: it is put
  // back where it was.
  const fit = () => {
    const [x, y] = [scrollX, scrollY];
    place();
    if (scrollX !== x || scrollY !== y) scrollTo(x, y);
  };
  const refit = debounce(() => talk && fit(), 200);
  addEventListener("resize", refit);
  const resized = new ResizeObserver(refit);
  for (const part of [head, histogram.summary, histogram.list, qrAside, foot]) resized.observe(part);
  const read = async () => {
    const loaded = await get(talkPath(talkId));
    if (stopped) return;
    if (shown.read(loaded)) {
      talk = loaded;
      show();
    } else if (!missing) {
      show(); // the talk shown, its caption by the clock the answer set
    }
  };
  // A talk that is not (or no longer) in the programme: said as the title, with what the one
  // setting up the screen can do, without the QR code, the histogram or a live state.
  const notInProgramme = (gone) => {
    inProgramme(false);
    title.classList.remove("long", "whole");
    speakers.classList.remove("one-line");
    screen.classList.remove("grown", "apart");
    speakers.removeAttribute("dir"); // (the page's words, in its direction and language)
    setLang(title, null);
    setLang(speakers, null);
    setText(title, gone ? "This talk is no longer in the programme" : "This talk is not in the programme");
    setText(speakers, gone
      ? "An organiser removed it. This screen shows it again if it comes back."
      : "Check this screen's address, or add the talk on the organisers' page: it appears here once it is added.");
    setText(problem, "");
  };
  // The 30 s read: an organiser's change is shown (at once when the live channel tells of it), a
  // deletion too; other failures keep what is shown (the badge and the line below say the
  // service cannot be reached).
  // A 404 is taken unless the talk was added again since the read was sent (newestShown).
  const reread = () => {
    const gone = shown.sent();
    return read().catch((error) => {
      if (notFound(error) && gone()) notInProgramme(true);
      else if (!missing) show();
    });
  };

  // Nobody reloads a projector when a newer version of the app is published either: the screen
  // loads it by itself at a quiet moment, while its talk takes no ratings (not open yet, closed,
  // or not in the programme) or once its figures have not moved for QUIET_MS; never while the
  // room is rating. The histogram as shown is watched for that.
  let movedAt = performance.now();
  let figures = null;
  const watched = {
    ...histogram,
    update(summary) {
      const next = JSON.stringify(summary.ratings ?? null);
      if (figures !== null && next !== figures) movedAt = performance.now();
      figures = next;
      histogram.update(summary);
    },
  };
  const quiet = () => missing || (talk !== null && !ratingWindow(talk, now()).open)
    || performance.now() - movedAt >= QUIET_MS;
  // Nor when its first read of config.json failed and the venue's zone came later (zone.js):
  // it reloads into it at a quiet moment, online.
  const versionTimer = setInterval(() => {
    if (stopped || !quiet()) return;
    if (zoneStale() && navigator.onLine) location.reload();
    else takeNewerVersion();
  }, 30_000);

  // A screen set up before its talk was added listens on the talk's channel meanwhile (its
  // name follows from the id): the organiser's add is shown at once, not at the next 30 s read.
  let waiting = null;
  let wake = () => {};
  const waitForTalk = () => {
    if (waiting) return;
    // An id hashed into its channel's name needs crypto.subtle, which plain http lacks (a
    // venue's local runtime on its own network): the screen's 30 s read finds the talk then.
    waiting = watchForTalk(talkId, shown, (added) => {
      if (stopped || talk) return;
      talk = added;
      show();
      wake();
    }).catch(() => null);
  };
  const stopWaiting = () => waiting && waiting.then((watcher) => watcher && watcher.stop());

  // The room's next talk, as the programme's read has it (its figures too), shown at once: the
  // room saw "Loading…" over empty bars for the moment of its read, at every talk's start.
  if (known && shown.read(known)) {
    talk = known;
    show();
  }
  (async () => {
    // Nobody reloads a projector: a screen opened before the room's network was up, or while
    // the service was busy (or before the talk was added), tries again by itself.
    while (!stopped && !talk) {
      try {
        await read();
      } catch (error) {
        if (talk) break; // the channel told of it meanwhile
        if (notFound(error)) {
          notInProgramme(false);
          // 400: an id no talk can have, and so none can be added under: said, and not asked
          // again (as on the talk page). A 404's talk may still be added: the screen waits.
          if (error.status === 400) {
            setText(speakers, "Check this screen's address: no talk can have it.");
            return;
          }
          waitForTalk();
        } else {
          setText(title, "Loading…");
          setText(problem, errorText(error));
        }
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, missing ? 30_000 : 5_000);
        });
      }
    }
    if (stopped) return;
    setText(problem, "");
    readTimer = setInterval(reread, 30_000);
    if (talk.summary) watched.update(talk.summary);
    const watcher = await watchTalk(talk, watched, {
      catalog: shown,
      checkMs: LIVE_CHECK_MS,
      onStatus: badge.set,
      onFetched: () => setText(problem, ""),
      onRead: followed.onRead,
      // A talk removed meanwhile is said as the 30 s read says it, not as the refetch's error.
      // (unless it was added again since the read was sent: newestShown)
      onFailed: (error, gone) => {
        followed.failed();
        // (offline: the announcer says so with the figures; the line shows why the read failed)
        if (!notFound(error)) sayOrShow(problem, errorText(error), { role: "alert", shown: failedOffline(error) });
        else if (gone) notInProgramme(true);
      },
      // An organiser's change, pushed: shown at once rather than at the next 30 s read (a
      // talk added again under its id too: the screen stays subscribed).
      onTalk: (changed) => {
        if (stopped) return;
        if (!changed) {
          notInProgramme(true);
          return;
        }
        talk = changed;
        show();
      },
    });
    if (stopped) watcher.stop();
    else live = watcher;
    stopWaiting(); // the talk's own watch hears its changes now
  })();
  return () => {
    stopped = true;
    stopWaiting();
    clearInterval(readTimer);
    clearInterval(versionTimer);
    clearTimeout(edgeTimer);
    clearTimeout(followTimer);
    followed.stop();
    live.stop();
    announcer.stop();
    document.removeEventListener("visibilitychange", keepAwake);
    removeEventListener("resize", refit);
    resized.disconnect();
    if (wakeLock) wakeLock.release().catch(() => {});
  };
}
