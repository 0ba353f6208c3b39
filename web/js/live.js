// Live updates: the AppSync Events real-time protocol when /app/config.json names an endpoint,
// polling over HTTP when it does not. After every (re)connection the page refetches its state
// over HTTP, so nothing published while it was away is missed.
import { appConfig, get, allTalks, readsInOrder } from "./api.js";

const SUBPROTOCOL = "aws-appsync-event-ws";
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
const DEFAULT_TIMEOUT_MS = 300_000;
const FALLBACK_POLL_MS = 5000;
// A connection that has not taken the subscription by then (a proxy that holds the upgrade, a
// channel that opens and never acknowledges) is closed and tried again, the page polling
// meanwhile: it said "Connecting…" over figures that never moved.
const HANDSHAKE_MS = 10_000;
// While live, the page still reads its state now and then: a message the channel dropped (or one
// the projector skipped while the channel hung) is healed within a minute, not at the next batch.
const LIVE_CHECK_MS = 60_000;
// A check that finds what no message carried, after a minute in which the channel said nothing,
// may have found a connection that died without closing (a NAT or proxy that dropped it: the
// keep-alive watchdog would take five minutes to notice, the page saying "Live" meanwhile). If no
// message comes in this long either (one on its way as the read was answered), the page drops
// the connection and connects again.
const SILENT_CONFIRM_MS = 5000;
// An "unavailable" message (the service's store of counts stopped answering, said by a batch
// that failed for it) has the page read within this long, at a moment of its own (every open
// page hears it at the same instant: they do not all read at that one): the read answers from
// the stored ratings and says so, and the page reads again on its own schedule (backing off)
// until the counts are back. A page whose last read found the counts unreadable already lets
// such messages be (each projector instance says it every 30 s while its batches fail), and
// several within this long of its read make no other.
const UNAVAILABLE_READ_MS = 5000;
// Counts moving again on the leaderboard's channel while the programme's last read found them
// unreadable have it read, at most once in each of these waits in turn (the last repeated),
// until a read finds them (see watchCatalogue).
const RECOVER_READ_MS = [5000, 10_000, 20_000, 30_000];
// A connection the channel refuses for what it offers (`connection_error`: a key it does not take,
// a malformed request) is refused again whatever the backoff: the page reads its config at once
// (a new key is offered at once), else it keeps fresh by polling and offers the channel its key
// again this much later, not every 30 s (thousands of phones, each offering a renewed key's old
// one, two a minute, for the rest of the day).
const REFUSED_RETRY_MS = 300_000;
const REFUSALS = new Set(["UnauthorizedException", "BadRequestException"]);

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function newId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// One channel, watched for as long as the page shows it.
//   channel: "/talkrate/talks/<segment>" or "/talkrate/leaderboard"
//   refresh(): fetch the state over HTTP (called at start, after each (re)connect, when polling);
//     it may answer true when what it read had moved since the page's last read or message,
//     which no message told (the live check then suspects a connection that died silently)
//   onEvent(message): a message published on the channel, parsed (but an "unavailable" one,
//     which reads soon: see UNAVAILABLE_READ_MS)
//   unreadable(): whether the page's last read found the counts unreadable (an "unavailable"
//     message then changes nothing)
//   onStatus(state): "live" | "connecting" | "polling" | "offline" (the browser has no network)
//   pollMs: how often to refresh without a live channel (half a second: a rating shows within
//   two, the projector's second included; a hidden tab polls every five)
//   checkMs: how often to read the state while live (LIVE_CHECK_MS; a room screen's is shorter)
export function watch({ channel, refresh, onEvent, onStatus = () => {}, pollMs = 500, unreadable = () => false, checkMs = LIVE_CHECK_MS }) {
  let stopped = false;
  // A browser without a network (a phone in a tunnel, a room PC whose Wi-Fi dropped) is said to
  // be offline, not "Live" over figures that cannot move while its connection has not noticed;
  // the state under it is said again when the network is back.
  let shownState = "connecting";
  const status = (state) => {
    shownState = state;
    onStatus(navigator.onLine === false ? "offline" : state);
  };
  let socket = null;
  let attempt = 0;
  let refusals = 0; // connections in a row that closed before the channel took the subscription
  let connectTimer = null;
  // Polling over HTTP (without a live channel, or while away from it) runs on its own timer, so
  // a reconnection's backoff never cancels it; `pollRun` ends a loop whose refresh is in flight.
  let pollTimer = null;
  let polling = false;
  let pollEvery = 0;
  let pollRun = 0;
  // While away from the channel: the channel to try again, and whether the last read failed. A
  // read that succeeds after one that failed means the service is back (a restart, the network
  // again): the channel is tried at once, not after a backoff grown while it was away.
  let away = null;
  let readFailed = false;
  // Live messages taken, and how many had come at the last live check: a check that finds news
  // after a minute without any suspects the connection (SILENT_CONFIRM_MS).
  let messages = 0;
  let checkedAt = 0;
  let liveSocket = null; // the connection that took the subscription, while it is open
  let unavailableReadAt = -Infinity;
  let unavailableTimer = null; // the read an "unavailable" message asked for, while it waits
  let suspectTimer = null;
  const check = async () => {
    const quiet = messages === checkedAt;
    const heard = messages;
    const current = liveSocket;
    let news;
    try {
      news = await refresh();
    } finally {
      checkedAt = messages;
    }
    if (news !== true || !quiet || !current || liveSocket !== current) return;
    clearTimeout(suspectTimer);
    suspectTimer = setTimeout(() => {
      if (!stopped && liveSocket === current && messages === heard) current.abandon();
    }, SILENT_CONFIRM_MS);
  };
  const safeRefresh = async (read = refresh) => {
    try {
      await read();
    } catch {
      // shown by the page itself; the next poll or reconnect tries again
      readFailed = true;
      return;
    }
    if (readFailed && away && !socket) {
      const live = away;
      clearTimeout(connectTimer);
      connectAgain(live);
    }
    readFailed = false;
  };

  function poll(every, run) {
    if (stopped || run !== pollRun) return;
    safeRefresh(liveSocket && every === checkMs ? check : refresh).finally(() => {
      if (stopped || run !== pollRun) return;
      pollTimer = setTimeout(() => poll(every, run), document.hidden ? Math.max(every, 5000) : every);
    });
  }

  function startPolling(every, delay) {
    if (polling && pollEvery === every) return; // already at this pace: its timer goes on
    stopPolling();
    polling = true;
    pollEvery = every;
    pollRun += 1;
    const run = pollRun;
    pollTimer = setTimeout(() => poll(every, run), delay);
  }

  function stopPolling() {
    polling = false;
    pollRun += 1;
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  function connect(live) {
    if (stopped) return;
    away = null;
    status("connecting");
    const auth = { host: live.host, "x-api-key": live.apiKey };
    const id = newId();
    let timeoutMs = DEFAULT_TIMEOUT_MS;
    let watchdog = null;
    let subscribed = false;
    let refused = false; // the channel refused this connection for what it offered
    const feed = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => socket && socket.close(), timeoutMs);
    };
    try {
      socket = new WebSocket(live.realtimeUrl, [SUBPROTOCOL, `header-${base64url(JSON.stringify(auth))}`]);
    } catch {
      reconnect(live);
      return;
    }
    const current = socket;
    const handshake = setTimeout(() => current.close(), HANDSHAKE_MS);
    current.onopen = () => current.send(JSON.stringify({ type: "connection_init" }));
    current.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      feed();
      if (data.type === "connection_ack") {
        timeoutMs = data.connectionTimeoutMs || DEFAULT_TIMEOUT_MS;
        feed();
        current.send(JSON.stringify({ type: "subscribe", id, channel, authorization: auth }));
      } else if (data.type === "subscribe_success" && data.id === id) {
        clearTimeout(handshake);
        subscribed = true;
        liveSocket = current;
        checkedAt = messages;
        attempt = 0;
        // The channel carries the updates now; a slow check stays, for what it may drop.
        startPolling(checkMs, checkMs);
        status("live");
        safeRefresh();
      } else if (data.type === "connection_error") {
        const kind = Array.isArray(data.errors) && data.errors[0] ? data.errors[0].errorType : null;
        refused = REFUSALS.has(kind);
        current.close();
      } else if (data.type === "subscribe_error" && data.id === id) {
        current.close();
      } else if (data.type === "data" && data.id === id) {
        messages += 1;
        try {
          const event = typeof data.event === "string" ? JSON.parse(data.event) : data.event;
          if (event && event.type === "unavailable") {
            if (unavailableTimer !== null || unreadable()) return;
            if (performance.now() - unavailableReadAt < UNAVAILABLE_READ_MS) return;
            unavailableTimer = setTimeout(() => {
              unavailableTimer = null;
              unavailableReadAt = performance.now();
              if (!stopped && !unreadable()) safeRefresh();
            }, Math.random() * UNAVAILABLE_READ_MS);
            return;
          }
          onEvent(event);
        } catch {
          // a message the page cannot read: the next refresh puts things right
        }
      }
    };
    current.onclose = () => {
      clearTimeout(watchdog);
      clearTimeout(handshake);
      if (liveSocket === current) liveSocket = null;
      if (socket === current) socket = null;
      refusals = subscribed ? 0 : refusals + 1;
      if (stopped) return;
      if (refused) refusedBy(live);
      else reconnect(live, subscribed);
    };
    // A connection found dead without closing (see check) is given up at once, as closed: its
    // close waits for a far end that no longer answers (up to a minute in Chromium), and the
    // page said "Live" over figures read only at its checks until then (a hall's Wi-Fi that
    // dropped for 30 s: the whole of it).
    current.abandon = () => {
      const closed = current.onclose;
      current.onmessage = null;
      current.onclose = null;
      current.close();
      if (closed) closed();
    };
  }

  // The channel refused what the page offered (see REFUSED_RETRY_MS): the config read again,
  // a new key or address offered at once, else polling until the channel is offered again.
  function refusedBy(live) {
    away = null; // (a read that fails meanwhile and then succeeds tries nothing sooner)
    clearTimeout(connectTimer);
    status("polling");
    startPolling(FALLBACK_POLL_MS, FALLBACK_POLL_MS);
    appConfig({ fresh: true }).then((config) => {
      if (stopped) return;
      const fresh = config && config.live && config.live.realtimeUrl ? config.live : null;
      const other = fresh && ["realtimeUrl", "host", "apiKey"].some((name) => fresh[name] !== live[name]);
      if (other) {
        connect(fresh);
        return;
      }
      // (then as after refusals in a row: the config read again before the channel is offered it)
      connectTimer = setTimeout(() => {
        refusals = Math.max(refusals, 2);
        connectAgain(live);
      }, REFUSED_RETRY_MS);
    });
  }

  // A channel that refuses the page again and again may have moved on from what the page read
  // (a local runtime started again: a new key, perhaps another port): the page's config is read
  // anew before such a try, so the page goes live again by itself instead of trying the old key.
  function connectAgain(live) {
    if (refusals < 2) {
      connect(live);
      return;
    }
    // This try is under way while its config is read: a read that finds the service back
    // meanwhile does not start another (it did, and the first connection stayed open beside it).
    away = null;
    appConfig({ fresh: true }).then((config) => {
      if (stopped) return;
      connect(config && config.live && config.live.realtimeUrl ? config.live : live);
    });
  }

  function reconnect(live) {
    away = live;
    status("connecting");
    const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    clearTimeout(connectTimer);
    // While away from the channel, the page keeps itself fresh over HTTP, every five seconds
    // from the drop on, however often it tries to reconnect meanwhile.
    startPolling(FALLBACK_POLL_MS, FALLBACK_POLL_MS);
    connectTimer = setTimeout(() => connectAgain(live), base / 2 + Math.random() * base);
  }

  // A phone brought back to the front reads the state at once: while it slept its connection
  // may have died quietly (the keep-alive watchdog would take minutes to notice).
  const onVisible = () => {
    if (!stopped && !document.hidden) safeRefresh();
  };
  document.addEventListener("visibilitychange", onVisible);
  // Offline, then back: the state is read at once (what was rated meanwhile), not at the next
  // poll or check a minute later.
  const onOffline = () => onStatus("offline");
  const onOnline = () => {
    if (stopped) return;
    status(shownState);
    safeRefresh();
  };
  addEventListener("offline", onOffline);
  addEventListener("online", onOnline);

  // Whether the deployment has a live channel. Not knowing (its config could not be read) is
  // not "none": the page keeps fresh every five seconds and asks again, rather than polling
  // twice a second for good.
  let configTimer = null;
  function start() {
    appConfig().then((config) => {
      if (stopped) return;
      if (config && config.live && config.live.realtimeUrl) {
        safeRefresh();
        connect(config.live);
      } else if (config && config.unknown) {
        status("polling");
        startPolling(FALLBACK_POLL_MS, 0);
        configTimer = setTimeout(start, FALLBACK_POLL_MS);
      } else {
        status("polling");
        startPolling(pollMs, 0);
      }
    });
  }
  start();

  return {
    refresh: safeRefresh,
    stop() {
      stopped = true;
      document.removeEventListener("visibilitychange", onVisible);
      removeEventListener("offline", onOffline);
      removeEventListener("online", onOnline);
      stopPolling();
      clearTimeout(connectTimer);
      clearTimeout(configTimer);
      clearTimeout(suspectTimer);
      clearTimeout(unavailableTimer);
      if (socket) {
        socket.onclose = null;
        socket.close();
        socket = null;
      }
    },
  };
}

export const LEADERBOARD_CHANNEL = "/talkrate/leaderboard";

// Where an organiser's change (a catalog message) stands among the changes to its talk, which
// two API instances may publish in either order: a document at its `revision` (a catalog-wide
// sequence, new at every save), a removal just after the revision of the talk it removed (the
// message's `revision`). Of two messages the lower place is the older, whichever kind: a page
// drops a message at or below the newest it has seen of the talk. Null for a removal from a
// service of before, which carries no revision: it is taken whatever was seen.
export function catalogPlace(message) {
  const revision = Number.isInteger(message.revision) ? message.revision : message.talk?.revision;
  if (!Number.isInteger(revision)) return null;
  return 2 * revision + (message.talk ? 0 : 1);
}

// The newest change to one talk a page shows (the talk page, the room screen), whichever way it
// came: the page's reads of the talk (GET /talks/{id}: at start, at its checks, after a 409) and
// the channel's catalog messages alike, each at its place (catalogPlace). A read sent before an
// organiser's save may be answered after the save's message: without this it put the old title,
// room and times back until the next read (a minute). `talk`: the document the page shows first.
export function newestShown(talk = null) {
  let newest = -Infinity;
  // Whether something at `place` is taken (`same`: also at the newest place itself).
  const take = (place, same) => {
    if (place === null) return true; // a removal from a service of before: taken as it came
    if (place < newest || (place === newest && !same)) return false;
    newest = place;
    return true;
  };
  const shown = {
    // A catalog message, taken when newer than all the page has shown of the talk (a message
    // again, or one no newer than a read, is dropped).
    message: (message) => take(catalogPlace(message), false),
    // A read's document, taken unless older than what is shown (the page keeps that); as new, it
    // is the talk shown (the window is drawn again by the clock its answer set).
    read: (document) => take(catalogPlace({ talk: document }), true),
    // Called as a read is sent: its answer, when it lands, whether a "not in the programme" of
    // that read may be shown. A 404 carries no revision: it is taken unless the page took a
    // talk's document since the read was sent (the talk added again meanwhile: its message
    // came first, and the 404 is of the moment between; a removal after the save has its own
    // message, which is taken). A page that showed a talk gone while it was there stopped
    // (the talk page) or said so until its next read (the screen).
    sent() {
      const before = newest;
      return () => newest === before || newest % 2 === 1;
    },
  };
  if (talk) shown.read(talk);
  return shown;
}

// The whole programme with each talk's count and average, kept current (the programme's cards,
// the organisers' table). The catalogue (40 to 80 KB) is read at the start, after each
// (re)connection, when the page is shown again, once a minute while live (the watch's check) and
// every `pollMs` without a live channel. Ratings do not read it: a leaderboard message carries
// each moved talk's count, average and revision, put on the talk; one that names a talk not
// known here, or carries none (an older service), reads it, at most once a minute. An
// organiser's change does not either: its catalog message carries the talk's document (null once
// removed), put in the list at once. `onTalks(talks, { read, rebuilding, unavailable })` hears the
// list after each message, and each read (`read`), which says whether the service is recounting
// the summaries, or cannot read them just now;
// `read()` reads it now (its promise fails as the read did, after `onFailed(error)`, unless a
// newer read's list was drawn meanwhile).
export function watchCatalogue({ talks = [], onTalks, onFailed = () => {}, onStatus, pollMs }) {
  let stopped = false;
  let heard = 0; // messages taken
  const heardOf = new Map(); // talk id -> { n, revision, summary } of the last message about it
  const changedOf = new Map(); // talk id -> { n, talk, place } of the newest catalog message about it
  const removedOf = new Map(); // talk id -> { n, summary } of a listed talk as a removal took it away
  let readAt = 0;
  let pending = null;
  let unreadable = false; // the last read said the counts cannot be read just now
  let recoverAt = -Infinity; // when counts moving again while unreadable last asked for a read
  let recoverTries = 0; // such reads since the counts were last read (RECOVER_READ_MS)
  let recoverTimer = null;
  // Reads overlap (the start, a reconnection, a check, an organiser's action): each answer in its
  // turn (readsInOrder). An older one answered after a newer one put the old list back, a
  // change whose message never came gone again until the next read.
  const reads = readsInOrder();
  const read = async () => {
    clearTimeout(pending);
    pending = null;
    readAt = Date.now();
    const before = heard;
    const turn = reads.start();
    let fresh;
    try {
      fresh = await allTalks();
    } catch (error) {
      // One older than a list drawn meanwhile fails nobody: that list is newer than its answer.
      if (!stopped && !turn.newest()) return false;
      if (!stopped) onFailed(error);
      throw error;
    }
    if (stopped || !turn.draws()) return false;
    const { rebuilding, unavailable } = fresh;
    // Whether a talk's count moved since the page last heard of it (see watch's check).
    const countOf = new Map(talks.map((talk) => [talk.id, Number(talk.summary?.count ?? 0)]));
    const news = fresh.some((talk) => countOf.has(talk.id) && Number(talk.summary?.count ?? 0) > countOf.get(talk.id));
    // A message heard while the read was on its way is newer than what the read says.
    for (const talk of fresh) {
      const known = heardOf.get(talk.id);
      if (known && known.n > before) talk.summary = { ...talk.summary, ...known.summary };
    }
    for (const [id, { n, talk, place }] of changedOf) if (n > before) fresh = changed(fresh, id, talk, place);
    talks = fresh;
    unreadable = unavailable === true;
    if (!unreadable) recoverTries = 0;
    onTalks(talks, { read: true, rebuilding, unavailable });
    return news;
  };
  const readSoon = () => {
    if (pending || stopped) return;
    pending = setTimeout(() => read().catch(() => {}), Math.max(0, readAt + 60_000 - Date.now()));
  };
  // The list with the talk `id` as a catalog message has it: its document (`talk`), or none
  // once removed. A message no newer than the talk listed (a slower publish of an earlier save,
  // or of a removal before the talk was added again: see catalogPlace) is dropped. A talk not
  // listed yet takes the newer of the count it was last heard with and the one it had when
  // this page saw it removed (its ratings are kept and come back with its id; a publish of an
  // older batch may come after the removal), else none (a
  // talk added under the id of one removed before the page opened has its ratings: read
  // within a minute).
  const changed = (list, id, talk, place) => {
    const known = list.find((t) => t.id === id);
    if (place !== null && known && Number.isInteger(known.revision) && place <= 2 * known.revision) return list;
    if (!talk) {
      if (known) removedOf.set(id, { n: heard, summary: known.summary });
      return known ? list.filter((t) => t !== known) : list;
    }
    // (ratings only add up: of the two, the one with more is the newer, a message heard later
    // than the removal where they are equal, its average moved by a changed mind)
    const [heardLast, removed] = [heardOf.get(id), removedOf.get(id)?.summary ? removedOf.get(id) : undefined];
    const counted = (known) => Number(known.summary.count ?? 0);
    const newer = (a, b) => counted(a) > counted(b) || (counted(a) === counted(b) && a.n > b.n);
    const last = heardLast && removed ? (newer(heardLast, removed) ? heardLast : removed) : heardLast ?? removed;
    const summary = known?.summary ?? last?.summary ?? { count: 0, avg: null };
    if (!known && !last?.summary) readSoon();
    const next = { ...talk, summary };
    return known ? list.map((t) => (t === known ? next : t)) : [...list, next];
  };
  const onChange = (message) => {
    const { talkId, talk } = message;
    if (typeof talkId !== "string") return;
    // Older than a change already heard of the talk (a save published after the removal
    // that followed it, when the talk is no longer listed to compare with): dropped.
    const place = catalogPlace(message);
    const newest = changedOf.get(talkId)?.place;
    if (place !== null && Number.isInteger(newest) && place <= newest) return;
    heard += 1;
    changedOf.set(talkId, { n: heard, talk: talk || null, place });
    const next = changed(talks, talkId, talk || null, place);
    if (next === talks) return;
    talks = next;
    onTalks(talks);
  };
  const onEvent = (message) => {
    if (message && message.type === "catalog") return onChange(message);
    if (!message || !message.summaries) return readSoon();
    heard += 1;
    let unknown = false;
    for (const [id, { count, avg, ratings, ratingsRevision: revision }] of Object.entries(message.summaries)) {
      const known = heardOf.get(id);
      if (known && revision < known.revision) continue; // a slower publish of an older batch
      heardOf.set(id, { n: heard, revision, summary: { count, avg, ratings } });
      const talk = talks.find((t) => t.id === id);
      // (its histogram with them, or none: one kept from before would write an old average)
      if (talk) talk.summary = { ...talk.summary, count, avg, ratings };
      else unknown = true;
    }
    onTalks(talks);
    // Counts moving again while the page says they cannot be read: read soon (the talks this
    // message leaves out have no count shown), which says so, rather than at the next of the
    // page's reads backing off (up to a minute). Once in each of RECOVER_READ_MS's waits in
    // turn (5, 10, 20, then every 30 s), at a moment of the next UNAVAILABLE_READ_MS drawn by
    // each page (every open page hears the same message), and the page still says so until a
    // read finds the counts: where the projector reaches Redis and the API does not (one shard
    // of a cluster down), every page read the whole list again at every message, all at once;
    // a flat 30 s kept "Paused" up to 35 s after the counts came back.
    if (unreadable) {
      const gap = RECOVER_READ_MS[Math.min(recoverTries, RECOVER_READ_MS.length - 1)];
      if (recoverTimer === null && performance.now() - recoverAt >= gap) {
        recoverAt = performance.now();
        recoverTries += 1;
        recoverTimer = setTimeout(() => {
          recoverTimer = null;
          if (!stopped) read().catch(() => {});
        }, Math.random() * UNAVAILABLE_READ_MS);
      }
    } else if (unknown) readSoon();
  };
  const live = watch({ channel: LEADERBOARD_CHANNEL, refresh: read, onEvent, onStatus, pollMs, unreadable: () => unreadable });
  return {
    read,
    stop() {
      stopped = true;
      clearTimeout(pending);
      live.stop();
    },
  };
}

// The talk's channel: the API's "channel" field when present, else computed as the shared
// package does (the id itself when short and plain, else "t" + 40 hex digits of its SHA-256).
export async function talkChannel(talk) {
  if (talk.channel) return talk.channel;
  if (/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$/.test(talk.id)) return `/talkrate/talks/${talk.id}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(talk.id));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `/talkrate/talks/t${hex.slice(0, 40)}`;
}

// A talk's histogram kept current: the talk's channel when there is one (its messages carry the
// histogram), GET /ratings after every (re)connection or poll. `onFetched()` hears each fresh
// state shown (a GET or a live message), `onFailed(error, gone)` each GET that failed (`gone`:
// whether a 404 of it may be shown, see newestShown's `sent`), `onTalk(talk)` each organiser's
// change to the talk the channel tells of: its document (as GET /talks/{id} answers it, without
// the summary), or null once removed; `onRead(body)` each GET's answer (its `rebuilding` and
// `unavailable`), and `{}` when a live message shows the counts moving again after a read found
// them unreadable or being recounted; `catalog`: the page's newestShown, which its own reads of the talk move too;
// `checkMs`: how often the state is read while live (watch's).
// Returns the watcher (stop(), refresh()).
export async function watchTalk(talk, histogram, { onStatus, onFetched = () => {}, onFailed = () => {}, onTalk = () => {}, onRead = () => {}, catalog = newestShown(talk), checkMs } = {}) {
  // A read that was on its way while a live message came may answer an older state than the
  // message's, and a message whose publish was slow may come after the next batch's. Each
  // carries the talk's ratingsRevision (ratings applied so far, a voter's changed rating too):
  // the lower is the older. Without one (an older service), ratings only add up, so the one
  // with fewer than shown is the older (a changed rating, equal in total, is taken).
  let shown = null;
  let heard = 0;
  let unreadable = false; // the last read said the counts cannot be read just now
  let recounted = false; // the last read said the counts are being recounted (rebuilding)
  const totalOf = (ratings) => Object.values(ratings || {}).reduce((a, n) => a + Number(n || 0), 0);
  const stateOf = (body) => ({ revision: body.ratingsRevision, total: totalOf(body.ratings) });
  // -1, 0 or 1 as `state` is older than, as new as, or newer than what is shown.
  const against = (state) => {
    if (shown === null) return 0;
    const revisions = Number.isInteger(state.revision) && Number.isInteger(shown.revision);
    return Math.sign(revisions ? state.revision - shown.revision : state.total - shown.total);
  };
  const older = (state) => against(state) < 0;
  const newer = (state) => against(state) > 0;
  const refresh = async () => {
    const before = heard;
    const gone = catalog.sent();
    try {
      const body = await get(`/ratings?talkId=${encodeURIComponent(talk.id)}`);
      const state = stateOf(body);
      const news = heard === before && newer(state); // what no message told (see watch's check)
      if (heard === before || !older(state)) {
        histogram.update({ ratings: body.ratings, avg: body.stats ? body.stats.avg : undefined, stats: body.stats });
        shown = state;
      }
      onFetched();
      unreadable = body.unavailable === true;
      recounted = body.rebuilding === true;
      onRead(body); // (its `rebuilding` or `unavailable`: why the counts are the event store's)
      return news;
    } catch (error) {
      onFailed(error, gone());
      throw error;
    }
  };
  return watch({
    channel: await talkChannel(talk),
    refresh,
    onEvent: (event) => {
      // An organiser's changes in the order of their revisions, whichever reaches the page
      // first: a slower publish of an earlier save, a removal's before the talk was added
      // again, or one older than the page's last read, is dropped (see newestShown).
      if (event && event.type === "catalog" && event.talkId === talk.id) {
        if (catalog.message(event)) onTalk(event.talk || null);
      } else if (event && event.type === "talk" && event.talkId === talk.id) {
        const state = stateOf(event);
        if (older(state)) return;
        heard += 1;
        histogram.update(event);
        shown = state;
        // Fresh numbers from the service: a check that failed meanwhile is no longer the news
        // (the room's screen said "cannot be reached" under moving bars until the next check).
        onFetched();
        // The counts are read again (the projector read this state back from them): said at
        // once, as a read that found them would, not at the page's next read backing off. So
        // too after a read that found them being recounted: the projector applies no batch
        // while a rebuild holds its lock, nor onto a read model not built (it rebuilds first),
        // so a batch's message comes once the recount is done.
        if (unreadable || recounted) {
          unreadable = false;
          recounted = false;
          onRead({});
        }
      }
    },
    onStatus,
    unreadable: () => unreadable,
    checkMs,
  });
}


// A talk not in the programme (yet): its channel is known from its id, so the catalog message
// that adds it is heard at once (a room screen set up before an organiser added its talk).
// `onTalk(talk)` hears its document, in the order of the changes kept in the page's newestShown
// `catalog` (a removal is heard and ordered, not told); whatever else the page shows it reads
// itself. Returns the watcher.
export async function watchForTalk(talkId, catalog, onTalk) {
  return watch({
    channel: await talkChannel({ id: talkId }),
    refresh: async () => false, // the page reads the talk itself
    onEvent: (event) => {
      if (event && event.type === "catalog" && event.talkId === talkId && catalog.message(event) && event.talk) onTalk(event.talk);
    },
    pollMs: 30_000,
  });
}
