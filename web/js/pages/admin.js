// /app/admin: organisers sign in with their token, add, edit and remove talks, and download the
// results as CSV. The token stays in this tab only (sessionStorage).
import { h, fill, refill, setText, plural, formatAvg, formatCount, formatDay, formatTime, formatZone, formatZoned, dayOf, arrange, talkHref, isolated, lineDirection, isolatedText, append, quoted, setLang, speakerList, listed, askBeforeLeaving } from "../dom.js";
import { request, allTalks, talkPath, appConfig, ApiError, credentialRefused, idempotencyKey, serviceNow } from "../api.js";
import { venueZone, unknownZone, zoneName, wallOf, wallText, wallTime, instantsOf } from "../zone.js";
import { watchCatalogue } from "../live.js";
import { errorText, searchBox, settledLine, searchWords, matchesSearch, shownOf, liveBadge, staleNotice, countsNotice, countsFollowed, LISTED_COUNTS } from "./common.js";
import { when, zoned, ratingClosed, atNextEdge } from "../window.js";
import { qrSvg } from "../qr.js";
import { roomClashes } from "../clashes.js";

const TOKEN_KEY = "talkrate.organiser";
// The wait, in seconds, before a read that failed `tries` times before this one is made again
// (the list after an action, a talk someone else saved over a save of this page's): 1, 2, 4,
// 8, 16 s, then every 30 s, later when the service asks with Retry-After, up to 30 s.
const REREAD_MAX_S = 30;
const rereadAfterS = (tries, error) => Math.min(REREAD_MAX_S, Math.max(2 ** tries, error.retryAfter || 0));
// The characters a talk's id may hold (the API's TALK_ID), as the form's hint says them.
const ID_CHARACTERS = "Latin letters, digits and . _ : ~ - (no spaces), starting with a letter or a digit";

// `text` if it is a well-formed language tag whose language is a code of 2 or 3 letters (as the
// API takes them: "Hebrew" is a well-formed tag to the browser), else "".
function languageTag(text) {
  try {
    return /^[a-z]{2,3}(?:-|$)/i.test(text) && Intl.getCanonicalLocales(text).length === 1 ? text : "";
  } catch {
    return "";
  }
}

// The organisers' table's rows' ids (see showRow), and its QR buttons' words.
let rowIds = 0;
const QR_OF = "talk-qr-of";

const FIELD_LABELS = { title: "Title", id: "Id", speakers: "Speakers", language: "Language", track: "Track", room: "Room", startsAt: "Starts", endsAt: "Ends" };

// The programme file's rules (the results file, ids from titles, imports): fetched when an
// organiser first needs them, not by every attendee's phone with the app.
// Fetched without a network, they are said as the service out of reach, not in the browser's
// words ("Failed to fetch dynamically imported module: …"); the next call fetches them anew.
const programmeFile = () => import("../programme-file.js").catch(() => {
  throw new ApiError(0, { title: "The service cannot be reached" });
});

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // the tab forgets it; signing in again works
  }
}

// <input type="datetime-local"> speaks local time without a zone; the API wants RFC 3339.
const FIELD_NAMES = { title: "the title", speakers: "the speakers", language: "the language", track: "the track", room: "the room", startsAt: "the start", endsAt: "the end" };

function changedFields(before, after) {
  return Object.keys(FIELD_NAMES)
    .filter((k) => JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null))
    .map((k) => FIELD_NAMES[k]);
}

// The form's fields that hold a direction control, each [name, sentence] as a refusal of the
// API's would be said (a speaker by where the name is in the list).
function directionRefusals(fields, directionControl) {
  const refusals = [];
  for (const name of ["title", "track", "room"]) {
    const control = fields[name] ? directionControl(fields[name]) : null;
    if (control) refusals.push([name, `Must not hold ${control}.`]);
  }
  fields.speakers.forEach((speaker, i) => {
    const control = directionControl(speaker);
    if (control) refusals.push(["speakers", `Name ${i + 1} must not hold ${control}.`]);
  });
  return refusals.sort(([a], [b]) => Object.keys(FIELD_LABELS).indexOf(a) - Object.keys(FIELD_LABELS).indexOf(b));
}

// A sentence with the language codes in it (en-GB, pt-BR, zh-Hant-TW, es-419: a language's
// code and its script or region as the registry writes them) each kept on one line: a narrow
// screen broke them at their hyphen, "pt-" over "BR", which reads as two codes. So are the
// dates and times an import's refusals quote for the file (2027-10-31, 02:30+01:00,
// 2026-12-08T09:00:00+01:00): broken at a hyphen, the value to copy read as two.
const LANGUAGE_CODE = /\b[a-z]{2,3}(?:-(?:[A-Z][a-z]{3}|[A-Z]{2}|\d{3}))+\b|\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?|\b\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})/g;
function codesWhole(text) {
  const parts = [];
  let from = 0;
  for (const found of text.matchAll(LANGUAGE_CODE)) {
    parts.push(text.slice(from, found.index), h("span", { class: "language-code" }, found[0]));
    from = found.index + found[0].length;
  }
  parts.push(text.slice(from));
  return parts;
}

// Its wall time in the venue's zone when the deployment names one, else this device's (zone.js):
// an organiser in London preparing a Berlin conference types Berlin hours.
function toLocalInput(iso) {
  return iso ? wallText(wallOf(Date.parse(iso))) : "";
}

// The instants of an input's wall time in the venue's zone (without one, this device's), earliest
// first: none when its clocks skip it, two when they show it twice (the night they go back).
// (A device in Berlin without a venue's zone was not asked: `new Date` took the first 02:30.)
function instantsOfInput(value) {
  return instantsOf(wallOfInput(value));
}

// An input's wall time ("2026-10-25T02:30", its seconds if any), as zone.js's wallTime.
function wallOfInput(value) {
  const [year, month, day, hour, minute, second = 0] = value.split(/[-T:]/).map(Number);
  return wallTime(year, month, day, hour, minute, second);
}

// The instant of an input's wall time; null when empty, undefined when the clocks skip it, or
// show it twice and `which` (0: the first, 1: the second) is not chosen.
function fromLocalInput(value, which = null) {
  if (!value) return null;
  const found = instantsOfInput(value);
  const instant = found.length === 1 ? found[0] : found[which ?? 2];
  return instant === undefined ? undefined : new Date(instant).toISOString();
}

// "UTC+02:00" of the offset a wall time has at an instant.
function offsetName(wall, instant) {
  const minutes = Math.round((wall - instant) / 60000);
  const whole = Math.abs(minutes);
  return `UTC${minutes < 0 ? "-" : "+"}${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
}

// A talk's times in one cell, its day over its hours over their zone ("Wed, Dec 2" over "09:00 AM
// – 09:45 AM" over "CET"): two columns of dates took the width the titles need on a laptop, and
// the zone beside the hours took 35 px more of it.
function timesCell(talk) {
  const { startsAt: starts, endsAt: ends } = talk;
  if (!starts && !ends) return [];
  const zone = (iso) => [" ", h("span", { class: "zone" }, formatZone(iso))];
  if (!starts) return [h("span", { class: "day" }, formatDay(ends)), ` until ${formatTime(ends)}`, zone(ends)];
  const sameDay = ends && formatDay(ends) === formatDay(starts);
  // (the start's zone named beside it when a clock change comes between)
  const from = ends && formatZone(starts) !== formatZone(ends) ? formatZoned(starts) : formatTime(starts);
  return [h("span", { class: "day" }, formatDay(starts)), " ",
    h("span", { class: "hours" }, from, ends ? ` – ${sameDay ? formatTime(ends) : when(ends)}` : ""), zone(ends || starts)];
}

// Whether the talk takes ratings at `now` (by the service's clock), under its times: an
// organiser asked on the day why a talk cannot be rated, or moving its times to open or close
// its rating, found it nowhere on their page (the talk page said it to attendees only).
function ratingState(talk, now) {
  const starts = Date.parse(talk.startsAt);
  if (ratingClosed(talk, now)) return "Rating closed";
  // (paused: no rating until an organiser resumes it, whatever its times say)
  if (talk.ratingsPaused) return "Rating paused";
  if (Number.isFinite(starts) && now < starts) return "Rating opens at its start";
  const ends = Date.parse(talk.endsAt);
  if (Number.isFinite(ends) && now > ends && talk.ratingClosesAt) return `Rating open until ${when(talk.ratingClosesAt)}`;
  return talk.ratingClosesAt || talk.startsAt ? "Rating open" : "Rating always open (no times set)";
}

// What an import says after its summary of the ratings it leaves as they are, as `talkrate
// admin import` says it (its _paused_line and _pause_not_applied_line), with the page's own
// buttons for the command's: the file's talks whose ratings are paused (an import never pauses
// or resumes them: imported again the morning after, a paused talk was taken for open), and
// the rows whose ratingsPaused cell (an export read back) says otherwise of their talk. Each
// null when there are none; `dryRun`: what the import would do; `signedOut`: said as the page
// asks for the token again (an import stopped by its refusal), the rows shown once signed in.
const NAMED_TALKS = 20; // (the first ones, then how many more: the command's BadRows.SHOWN)
function namedTalks(rows, after = () => "") {
  const shown = rows.slice(0, NAMED_TALKS);
  const more = rows.length - shown.length;
  return [shown.map((row, i) => [i ? ", " : "", quoted(row.fields.title, ("language" in row.fields ? row.fields : row.current || {}).language), after(row)]),
    more ? ` and ${formatCount(more)} more` : ""];
}
function pausedNote(paused, dryRun, { signedOut = false } = {}) {
  if (!paused || !paused.length) return null;
  const one = paused.length === 1;
  return [`${plural(paused.length, "talk", "talks")} ${dryRun ? "would stay" : one ? "is" : "are"} paused (ratings refused): `, namedTalks(paused),
    ` — ${signedOut ? "once you are signed in again, " : ""}“Resume ratings” in ${one ? "its row opens it" : "their rows opens them"} again.`];
}
function pauseNotAppliedNote(rows, dryRun) {
  if (!rows || !rows.length) return null;
  return [`The file's ratingsPaused column ${dryRun ? "would not be" : "is not"} applied (an import never pauses or resumes ratings: `
    + "“Pause ratings” and “Resume ratings” in a talk's row do); it differs from the talk for ",
  namedTalks(rows, (row) => ` (${row.inFile} in the file, the talk ${row.paused ? "paused" : "not paused"})`), "."];
}

export function adminPage(main) {
  document.title = "Organisers · talkrate";
  let token = storedToken();
  let stopLive = () => {};
  const message = h("p", { class: "notice", role: "status", id: "admin-message", "data-testid": "admin-message" });
  // An import's words when the organiser opened a talk's form while it ran: said above that
  // form, not in its line (which then stands in it and speaks of it); gone with the form.
  const importLine = h("p", { class: "notice", role: "status", "data-testid": "import-message" });
  // (emptied as it goes: an import of the same result later wrote the same words, unheard)
  const dropImportLine = () => {
    importLine.remove();
    importLine.textContent = "";
  };
  // What the open talk form's closing ends (see the editor's reads of another organiser's
  // version), run once as it closes: Cancel, a save done, another form, signing out.
  let leaveForm = () => {};
  const formLeft = () => {
    const leave = leaveForm;
    leaveForm = () => {};
    unsaved = () => null;
    leave();
  };
  // What the open talk form holds that is not saved, as the question before dropping it says
  // it, or null (nothing typed, no form, a save on its way). Another row's Edit, Add a talk,
  // Import, Sign out, a link of the app, Back, a reload or closing the tab dropped a form
  // typed in without a word: each now asks first (see formMayGo), and a form kept stays as it
  // was, its heading given the keyboard.
  let unsaved = () => null;
  let keepForm = () => {};
  function formMayGo() {
    const words = unsaved();
    if (words === null) return true;
    if (window.confirm(words)) {
      unsaved = () => null; // (dropped: not asked again as the page goes)
      return true;
    }
    keepForm();
    return false;
  }
  const unguard = askBeforeLeaving(formMayGo);
  const beforeUnload = (event) => {
    if (unsaved() === null) return;
    event.preventDefault();
    event.returnValue = ""; // (the browser asks in its own words)
  };
  addEventListener("beforeunload", beforeUnload);
  // Whose the page's message line is: each form opened, each delete, a failed download and
  // signing in or out take it (see readListAfter).
  let turns = 0;
  const GONE = "gone"; // (see admin)

  // `revision`: the talk as the organiser saw it, sent as If-Match, so that a change someone
  // else saved since is not silently undone (the API answers 412 and changes nothing); GONE: the
  // talk as they saw it was removed, sent as If-None-Match: *, so that adding it back does not
  // overwrite one someone else added under its id meanwhile.
  async function admin(method, path, body, revision, sent = {}) {
    const headers = { ...sent, Authorization: `Bearer ${token}` };
    if (revision === GONE) headers["If-None-Match"] = "*";
    else if (revision !== undefined && revision !== null) headers["If-Match"] = `"${revision}"`;
    return request(method, path, { body, headers });
  }
  const changedMeanwhile = (error) => error instanceof ApiError && error.status === 412;

  // Whether `given` is the organiser token (GET /organiser reads and changes nothing: 200 for
  // it, 401/403 else): kept when it is, and null answered; else what to say, the page's token
  // none again (unless another check took one meanwhile).
  async function takeToken(given) {
    token = given;
    try {
      await admin("GET", "/organiser");
      storeToken(token);
      return null;
    } catch (error) {
      if (token === given) token = null;
      return credentialRefused(error) ? "That organiser token is not right." : errorText(error);
    }
  }

  // `focus`: the token's field takes the keyboard (after signing out, or a refused token), as
  // the button that was pressed is gone.
  function signIn({ focus = false } = {}) {
    turns += 1;
    stopLive();
    formLeft();
    // The field is described by its hint and, once a token is refused, by the page's line that
    // says so (a screen reader reads both at the field; the refusal was nowhere near it).
    const input = h("input", { id: "organiser-token", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "organiser-token-help" });
    const form = h("form", { class: "card", onsubmit: async (event) => {
      event.preventDefault();
      setText(message, "Checking…");
      const refused = await takeToken(input.value.trim());
      if (refused === null) return manage({ focus: true });
      setText(message, refused);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "admin-message organiser-token-help");
      input.focus();
    } },
      // What a password manager files the token under (it looks for a username beside a password).
      h("input", { type: "text", name: "username", autocomplete: "username", value: "organiser", hidden: true }),
      h("label", { for: "organiser-token" }, "Organiser token"),
      h("p", { class: "muted", id: "organiser-token-help" }, "Printed by the service when it starts (locally: make run), or kept in the deployment's secrets."),
      h("span", { class: "row" }, input, h("button", { type: "submit" }, "Sign in")));
    fill(main, h("h1", {}, "Organisers"), form, message);
    if (focus) input.focus();
  }

  // A field's refusal as the form names it: "Ends: Must be after the start." rather than the
  // API's field name, "endsAt".
  // The field is the first part of its path the form labels ("speakers.0": one of the speakers);
  // the API says what is wrong in plain words (talkrate.api.errors.plain_message), as the
  // command line shows them too.
  function fieldProblem(problem) {
    const { name, sentence } = problemOf(problem);
    return name ? `${FIELD_LABELS[name]}: ${sentence}` : sentence;
  }

  // The field a refusal names (undefined when none the form labels) and its sentence.
  function problemOf(problem) {
    const path = String(problem.field || "").split(".");
    const name = path.find((part) => FIELD_LABELS[part]);
    const text = String(problem.message || "");
    return { name, sentence: `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}` };
  }

  // `focus`: the first action takes the keyboard (after signing in, the form's button is gone).
  function manage({ focus = false } = {}) {
    setText(message, "");
    // The table takes a laptop's width (the programme's 60rem left the titles 170 px).
    document.body.classList.add("wide-page");
    const list = h("tbody");
    const formBox = h("div");
    const download = h("button", { type: "button", onclick: downloadCsv }, "Download results (CSV)");
    // For a spreadsheet whose decimal mark is "," (Excel in most of Europe): ";" between cells.
    const decimalComma = h("input", { type: "checkbox", id: "results-decimal-comma" });
    const downloadChoice = h("label", { for: "results-decimal-comma", class: "toolbar-choice" },
      decimalComma, " Decimal comma (Excel in Europe)");
    const add = h("button", { type: "button", onclick: () => editor(null) }, "Add a talk");
    const importButton = h("button", { type: "button", onclick: importer }, "Import a programme (CSV)");
    // The programme's search, over the whole table: at a conference of 300 talks an organiser
    // fixing one types a few letters of it rather than scrolling. Kept in the address (?q=), so
    // a reload or Back from a talk finds the same rows.
    let talks = []; // as last read, in the table's order
    let edgeTimer = null; // (see statesAtEdges)
    let hiddenNote = null; // { talkId, node }: the note that a talk saved is not in the list (see notShown)
    let pausedHidden = null; // the note that the search hides paused talks an import named (see pausedBySearch)
    const rows = new Map(); // talk id -> its row
    let query = new URLSearchParams(location.search).get("q") || "";
    const search = searchBox("admin-search", query, "Title, speaker, track, room…", (text) => {
      query = text;
      countLine.typed();
      draw();
    });
    const count = h("p", { class: "muted", role: "status", "data-testid": "admin-count" });
    const countLine = settledLine(count); // what it says, written once a search's typing pauses
    // A venue's zone this browser does not know (older time zone data) leaves every page in this
    // device's zone: said here, once, as the organisers are who can see to it.
    const zoneNote = h("p", { class: "notice", "data-testid": "zone-unknown" });
    appConfig().then(() => {
      if (unknownZone()) {
        setText(zoneNote, `The venue's time zone, ${unknownZone()}, is not one this browser knows: `
          + `times are shown in this device's time zone, ${zoneName()}.`);
      }
    });
    fill(main,
      h("h1", {}, "Organisers"),
      zoneNote,
      h("p", { class: "toolbar" }, add, importButton, download, downloadChoice,
        h("a", { href: "/app/admin/qr-codes", class: "toolbar-link" }, "Print every QR code"),
        h("button", { type: "button", class: "quiet", onclick: () => {
          if (!formMayGo()) return;
          storeToken(null);
          token = null;
          signIn({ focus: true });
          // Said on the page's status line (polite: read after the token's field, which has the
          // keyboard): the sign-in form alone read as if the page had lost the organiser.
          setText(message, "Signed out: your organiser token is no longer kept in this tab.");
        } }, "Sign out")),
      message, formBox,
      h("form", { class: "filters single", role: "search", onsubmit: (e) => e.preventDefault() },
        h("span", { class: "field" }, h("label", { for: "admin-search" }, "Search talks"), search)),
      count,
      h("div", { class: "table-scroll" },
        h("table", { class: "admin-talks" },
          h("caption", { class: "sr-only" }, "Talks of the programme"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Talk"), h("th", { scope: "col" }, "Track"), h("th", { scope: "col" }, "Room"),
            h("th", { scope: "col" }, "When"), h("th", { scope: "col", class: "num" }, "Ratings"),
            h("th", { scope: "col", class: "num" }, "Average"), h("th", { scope: "col" }, "Actions"))),
          list),
        // (the words before a title in each row's QR button's name)
        h("span", { id: QR_OF, hidden: true }, "Download the QR code of")));

    // The table follows the programme as the other pages do (see watchCatalogue): a rating
    // moves its talk's count and average in place, another organiser's change shows as its
    // catalog message comes, and every 5 s without a live channel. Rows are kept per talk and changed in
    // place, so that the keyboard focus (on an Edit button) and an open form stay where they are.
    const badge = liveBadge();
    // A failed read of the list (see staleNotice), on a line of its own whether or not talks
    // are listed: the count line is redrawn as the organiser types a search. It stays until a
    // read comes (a pushed change or count is not one).
    const stale = staleNotice("list", "admin-stale");
    // Why the rows show no counts (the service recounting them, or unable to read them just
    // now: see countsNotice), said above the table in the programme's words, with "Paused" on
    // the badge, and read again as the notice asks (5 s, then backing off) until they are back.
    // The talks themselves (the catalog) are read and saved as ever meanwhile.
    const counts = countsNotice(LISTED_COUNTS);
    const followed = countsFollowed(counts, badge, () => watcher.read().catch(() => {}));
    count.after(badge.node, badge.said, stale.node, counts.node);
    if (focus) add.focus();
    const watcher = watchCatalogue({
      onTalks: (fresh, { read = false, rebuilding = false, unavailable = false } = {}) => {
        talks = [...fresh].sort((a, b) => (a.startsAt || "").localeCompare(b.startsAt || "") || a.title.localeCompare(b.title));
        const ids = new Set(talks.map((talk) => talk.id));
        for (const id of [...rows.keys()]) if (!ids.has(id)) rows.delete(id);
        statesAtEdges();
        if (read) {
          stale.read();
          followed.onRead({ rebuilding, unavailable });
        }
        draw();
      },
      // (an action's own read says it, with its next read: written here too, the line was
      // written twice at its first failure)
      onFailed: (error) => {
        if (!relist.reading) stale.failed(error, relist.said);
      },
      onStatus: badge.set,
      pollMs: 5000,
    });
    const load = () => watcher.read();
    // Each row's rating state follows the clock, not only the updates: the rows are drawn again
    // at the programme's next start, end or close.
    function statesAtEdges() {
      const now = serviceNow();
      for (const talk of talks) showRow(talk, now);
      clearTimeout(edgeTimer);
      edgeTimer = atNextEdge(talks, now, statesAtEdges);
    }
    // The newest action's read of the list (see readListAfter), its timer to read again, and
    // what the list's line says of it while it waits or runs ("" when none does).
    const relist = { newest: 0, timer: null, said: "", reading: false };
    const unplanned = () => {
      clearTimeout(relist.timer);
      relist.said = "";
    };
    stopLive = () => {
      clearTimeout(edgeTimer);
      watcher.stop();
      followed.stop();
      countLine.stop();
      relist.newest += 1;
      unplanned();
    };
    // Every failed read of the list, the table's own too (a check, the page looked at again, a
    // poll), says when the action's next read comes, while one waits or runs (written over,
    // the line lost it), in the words it was said with when it was planned: a failure in
    // between writes the line as it stands, which announces nothing (a wait said again in
    // fewer seconds at each poll was announced every 5 s through an outage).

    // The room clashes of the programme (as last read) that hold a talk of `ids` (saved or
    // imported), said as the command line says them (talkrate_cli/output.py clash_line): two
    // talks in one room at once is most often a typing slip (a wrong day, a room copied from the
    // row above), but not always (a workshop beside its break-out), so it is said, not refused.
    // The first 20 clashes, and how many more; empty when none is. `programme`: the talks to
    // look in (an import's preview: the programme as the import would leave it).
    function overlapWarning(ids, programme = talks, lead = " Check the times: ") {
      const found = roomClashes(programme, ids);
      if (!found.length) return null;
      const parts = [];
      for (const { room, talks: held, starts, ends } of found.slice(0, 20)) {
        const [from, to] = [starts, ends].map((ms) => new Date(ms).toISOString());
        // Both of two; else how many, the first 3 (all of 4: "and 1 more" is no shorter)
        const shown = held.length <= 4 ? held.length : 3;
        const named = held.slice(0, shown).map((t) => quoted(t.title, t.language));
        const rest = shown < held.length ? `${formatCount(held.length - shown)} more` : named.pop();
        // (the end's day too when it is another: a late talk's overlap past midnight)
        const until = formatDay(to) === formatDay(from) ? formatZoned(to) : zoned(to);
        parts.push(parts.length ? "; " : "", `room clash in ${room}, ${when(from)}–${until}: `,
          held.length > 2 ? `${formatCount(held.length)} talks overlap: ` : "",
          ...named.flatMap((name, at) => (at ? [", ", name] : [name])), " and ", rest);
      }
      if (found.length > 20) parts.push(`; and ${formatCount(found.length - 20)} more room clashes`);
      return h("span", { class: "overlap-warning", "data-testid": "overlap-warning" }, lead, parts, ".");
    }

    // The rows the search keeps, and how many they are ("12 of 240 talks"), said to screen
    // readers as the organiser types (a polite status, after the typing pauses).
    function draw() {
      const next = new URLSearchParams(location.search);
      if (query.trim()) next.set("q", query);
      else next.delete("q");
      const suffix = next.toString();
      history.replaceState(history.state, "", `${location.pathname}${suffix ? "?" + suffix : ""}${location.hash}`);
      const words = searchWords(query);
      const shown = talks.filter((talk) => matchesSearch(talk, words));
      arrange(list, shown.map((talk) => rows.get(talk.id).node));
      if (hiddenNote && !hiddenBySearch(hiddenNote.talkId)) {
        hiddenNote.node.remove();
        hiddenNote = null;
      }
      if (pausedHidden) pausedHidden.follow();
      // (no count of a list never read: a talk added meanwhile is not all there is)
      if (!stale.readAt) {
        countLine.say("");
        return;
      }
      if (talks.length && !shown.length) {
        countLine.say("No talk matches ", quoted(query.trim()), ". ",
          h("button", { type: "button", class: "link", onclick: clearSearch }, "Show all talks"));
        return;
      }
      countLine.say(shownOf(shown.length, talks.length));
    }

    function clearSearch() {
      query = "";
      search.value = "";
      draw();
      search.focus();
    }

    // A form in the form's place. While the talk's form is open the page's message line stands
    // in it, above its buttons (`messageBefore`), where the organiser is: a refusal said above
    // the form was out of view on a laptop, and nothing seemed to happen. Closed, the line
    // goes back above the form's place, for "Saved" and the like.
    // `onLeave`: what closing it ends (see formLeft); `held`, `kept`: what it holds unsaved
    // and what keeping it does (see formMayGo).
    function showForm(form, messageBefore = null, onLeave = () => {}, held = () => null, kept = () => {}) {
      formLeft();
      dropImportLine();
      turns += 1;
      formBox.before(message);
      fill(formBox, form);
      if (messageBefore) messageBefore.before(message);
      leaveForm = onLeave;
      unsaved = held;
      keepForm = kept;
    }
    function closeForm() {
      formLeft();
      dropImportLine();
      formBox.before(message);
      fill(formBox);
    }

    // After a save, an import or a delete said what it did: the list read again, and `then()`
    // (what the read lets it add: an overlap warning, the "not in the search" note) run after
    // it only while the page's message line is still that action's: no form opened, no delete
    // or sign-out since. A read slowed by a hall's Wi-Fi put a save's warning in a form opened
    // meanwhile, as if about that one, or after a delete's "Deleted …".
    // A read that fails leaves the action's words as they are (it was done): the list's own
    // line says the list could not be read, and it is read again 1, 2, 4, 8, 16 s later and
    // then every 30 s (later when the service asks, up to 30 s), as the talk form reads
    // another organiser's version, until a read comes; `then()` after it. Resolves when the
    // first read came back or failed: whether the line is still the action's (the keyboard's
    // place is its to set).
    async function readListAfter(then = () => {}) {
      const asked = turns;
      const mine = ++relist.newest;
      unplanned();
      const read = async (tries) => {
        try {
          relist.reading = true;
          await load();
        } catch (error) {
          relist.reading = false;
          if (relist.newest !== mine) return; // a newer action's read, or the page left
          const wait = rereadAfterS(tries, error);
          relist.said = ` Reading it again in ${wait} s.`;
          relist.timer = setTimeout(() => read(tries + 1), wait * 1000);
          stale.failed(error, relist.said);
          return;
        }
        relist.reading = false;
        if (relist.newest === mine) relist.said = ""; // (read: nothing waits any more)
        if (turns === asked) then();
      };
      await read(0);
      return turns === asked;
    }

    // A talk saved or added that the search leaves out: said, rather than seeming lost.
    const hiddenBySearch = (talkId) => rows.has(talkId) && !rows.get(talkId).node.isConnected;
    // (the note goes once the talk is in the list again, the search changed or cleared: it went
    // on saying the list did not show a talk shown right under it; see draw)
    const notShown = (talkId) => {
      const node = h("span", {}, " It does not match the search ", quoted(query.trim()), ", so the list does not show it.");
      hiddenNote = { talkId, node };
      return [node];
    };

    // The paused talks an import named whose rows the search hides: its line's "“Resume ratings”
    // in their rows" led nowhere while the search left those rows out. Said after it, with a
    // button that shows every talk (the search cleared, as "No talk matches" does) and takes
    // the keyboard to the first hidden one's "Resume ratings"; its count follows the search,
    // and it goes once none is hidden (or the line is another's). Null when none is hidden.
    function pausedBySearch(ids) {
      const node = h("span", { "data-testid": "import-paused-hidden" });
      const words = () => {
        const hidden = ids.filter(hiddenBySearch);
        if (!hidden.length) return null;
        const them = ids.length === 1 ? "it" : hidden.length === ids.length ? "them" : `${formatCount(hidden.length)} of them`;
        return [` The search hides ${them}: `, h("button", { type: "button", class: "link", onclick: () => {
          const first = talks.find((talk) => hidden.includes(talk.id));
          clearSearch();
          const pause = first && rows.get(first.id)?.pause;
          if (pause && pause.isConnected) pause.focus();
        } }, "Show all talks"), "."];
      };
      let placed = false; // (in a line once: a line written over since is another's)
      const follow = () => {
        const now = words();
        if (!now || (placed && !node.isConnected)) {
          node.remove();
          pausedHidden = null;
          return;
        }
        placed = node.isConnected;
        refill(node, now);
      };
      const note = { node, follow };
      const first = words();
      if (!first) return null;
      append(node, first);
      if (pausedHidden) pausedHidden.node.remove();
      pausedHidden = note;
      return node;
    }

    // A talk's row: made once, its cells filled again when what they show changed; its buttons
    // act on the talk as last read (its revision too).
    function showRow(talk, now = serviceNow()) {
      let kept = rows.get(talk.id);
      if (!kept) {
        const id = `talk-row-${++rowIds}`;
        // The row's header is named by its title alone: a screen reader says it at each cell of
        // the row, and its whole text (speakers, id, the QR button) was a mouthful each time.
        const cells = { talk: h("th", { scope: "row", "aria-labelledby": `${id}-title` }), track: h("td", { "data-label": "Track" }), room: h("td", { "data-label": "Room" }),
          when: h("td", { class: "when", "data-label": "When" }), count: h("td", { class: "num", "data-label": "Ratings" }),
          avg: h("td", { class: "num", "data-label": "Average" }) };
        // Named by their word and the row's title ("Edit <title>"), the title as the row shows
        // it, in the talk's language: a screen reader reads it in that language's voice, where
        // a name of plain text read a Hebrew title in English. (Ids of the page's own making:
        // a talk's id may hold what an id list cannot.)
        const named = (word) => ({ id: `${id}-${word}`, "aria-labelledby": `${id}-${word} ${id}-title` });
        const edit = h("button", { type: "button", "data-edit": talk.id, onclick: () => editor(kept.talk), ...named("edit") }, "Edit");
        // Beside the talk's id, not among the actions: the talk column keeps a laptop's width.
        const qr = h("button", { type: "button", class: "link talk-qr", onclick: () => downloadQr(kept.talk), "aria-labelledby": `${QR_OF} ${id}-title` }, "QR code");
        const del = h("button", { type: "button", class: "danger", onclick: () => remove(kept.talk), ...named("delete") }, "Delete");
        // Pauses the talk's ratings now (a talk cancelled, a speaker's request, results frozen
        // for an award), or resumes them: its word follows the talk. Under the rating's state,
        // not among the actions (a third button there took the talk column's width); made once,
        // so that it keeps the keyboard as its row changes.
        const pause = h("button", { type: "button", class: "link rating-pause", "data-pause": talk.id, onclick: () => pauseRatings(kept.talk), ...named("pause") });
        const times = h("span", { class: "when-times" });
        const state = h("span", { "data-testid": "rating-state" });
        cells.when.append(times, h("span", { class: "rating-state" }, state, " ", pause));
        kept = { id, cells, edit, qr, del, pause, times, state, key: null, node: h("tr", {}, Object.values(cells), h("td", { class: "actions" }, edit, del)) };
        rows.set(talk.id, kept);
      }
      kept.talk = talk;
      setText(kept.pause, talk.ratingsPaused ? "Resume ratings" : "Pause ratings");
      const state = ratingState(talk, now);
      const key = JSON.stringify([talk.title, talk.speakers, talk.language, talk.track, talk.room, talk.startsAt, talk.endsAt, state]);
      if (kept.key !== key) {
        const { cells } = kept;
        const lang = talk.language;
        fill(cells.talk, h("a", { class: "talk-title", id: `${kept.id}-title`, href: `/app/talks/${encodeURIComponent(talk.id)}`, lang }, talk.title),
          (talk.speakers || []).length ? h("span", { class: "talk-speakers", dir: lineDirection(talk.speakers), lang }, speakerList(talk.speakers, lang)) : null,
          h("span", { class: "talk-id-line" }, h("span", { class: "muted talk-id" }, talk.id), " · ", kept.qr));
        setText(cells.track, talk.track || "");
        setText(cells.room, talk.room || "");
        fill(kept.times, timesCell(talk));
        setText(kept.state, state);
        kept.key = key;
      }
      setText(kept.cells.count, talk.summary ? formatCount(talk.summary.count) : "–");
      setText(kept.cells.avg, talk.summary ? formatAvg(talk.summary.avg, talk.summary.ratings) : "–");
    }

    // Where the keyboard goes once a row's button or the form it was on is gone: the row's Edit
    // button (the row after it, once deleted), else the search when it hides the talk, else "Add
    // a talk"; never back to the page's top.
    function focusAfter(talkId, next = null, leaving = null) {
      const edits = [...list.querySelectorAll("button[data-edit]")].filter((b) => b.dataset.edit !== leaving);
      const target = edits.find((b) => b.dataset.edit === talkId) || (next !== null && edits[Math.min(next, edits.length - 1)])
        || (hiddenBySearch(talkId) ? search : add);
      if (target.isConnected) target.focus();
    }

    // The talk's ratings paused, or resumed when paused: the talk saved as it is (its revision:
    // nobody's change undone) with only ratingsPaused changed. A second press while the first
    // is on its way does nothing.
    const pausing = new Set();
    async function pauseRatings(talk) {
      if (pausing.has(talk.id)) return;
      const paused = !talk.ratingsPaused;
      turns += 1;
      pausing.add(talk.id);
      try {
        const fields = Object.fromEntries(["title", "speakers", "track", "room", "startsAt", "endsAt", "language"]
          .map((name) => [name, talk[name]]).filter(([, value]) => value !== null && value !== undefined));
        const saved = await admin("PUT", talkPath(talk.id), { ...fields, ratingsPaused: paused }, talk.revision);
        showRow({ ...talk, ...saved.body, summary: talk.summary });
        fill(message, paused ? "Paused the ratings of " : "Resumed the ratings of ", quoted(talk.title, talk.language),
          paused ? ": it takes no rating until you resume them (ratings sent before still count)." : ": it takes ratings again within its times.");
        await readListAfter();
      } catch (error) {
        if (changedMeanwhile(error)) {
          await load().catch(() => {});
          fill(message, quoted(talk.title, talk.language), " was changed or removed by someone else since this list was loaded: its ratings were not paused or resumed. The list shows it as it is now.");
          focusAfter(talk.id);
          return;
        }
        failed(error);
      } finally {
        pausing.delete(talk.id);
      }
    }

    // A talk being deleted is not asked about again (a second press on a slow network).
    const deleting = new Set();
    async function remove(talk) {
      if (deleting.has(talk.id)) return;
      if (!window.confirm(`Delete “${isolatedText(talk.title)}”? It leaves the programme and takes no more ratings. The ratings it has are kept: adding a talk with the same id again brings them back.`)) return;
      turns += 1;
      deleting.add(talk.id);
      try {
        const index = [...list.querySelectorAll("button[data-edit]")].findIndex((b) => b.dataset.edit === talk.id);
        await admin("DELETE", talkPath(talk.id), undefined, talk.revision);
        // The keyboard leaves the deleted row at once: the removal's catalog message may take
        // the row away before the list is read again, and the focus would fall to the page.
        focusAfter(null, Math.max(index, 0), talk.id);
        // Its own edit form, open, goes with it: saved, it said "removed by someone else".
        if (formBox.querySelector("form[data-talk]")?.dataset.talk === talk.id) closeForm();
        fill(message, "Deleted ", quoted(talk.title, talk.language), ".");
        if ((await readListAfter()) && document.activeElement === document.body) focusAfter(null, Math.max(index, 0));
      } catch (error) {
        if (changedMeanwhile(error)) {
          await load().catch(() => {});
          fill(message, quoted(talk.title, talk.language), " was changed or removed by someone else since this list was loaded: nothing was deleted. The list shows it as it is now.");
          focusAfter(talk.id);
          return;
        }
        failed(error);
      } finally {
        deleting.delete(talk.id);
      }
    }

    // The organiser token asked for again in the page's message line, the open talk `form`
    // kept as it is: the token was refused (changed since this page signed in), nothing was
    // saved. Once it is taken, the form's button has the keyboard, to send the change again.
    // Leaving the form without one (Cancel, another form) goes back to signing in.
    const tokenAsked = new WeakSet(); // the talk forms tokenAgain has asked in
    function tokenAgain(form) {
      const submit = form.querySelector('button[type="submit"]');
      const action = form.dataset.action || "Save"; // (the button says "Saving…" meanwhile)
      const problem = h("span", { class: "field-error", id: "organiser-token-again-error" });
      const input = h("input", { id: "organiser-token-again", type: "password", autocomplete: "current-password", "aria-describedby": problem.id });
      const shown = () => message.contains(input); // (a save, another form or signing out took the line)
      const check = async () => {
        const given = input.value.trim();
        if (!given) return input.focus();
        // (said each time: a second wrong token wrote the same words again, which says nothing)
        setText(problem, "Checking…");
        input.removeAttribute("aria-invalid");
        const refused = await takeToken(given);
        if (!shown()) return;
        if (refused === null) {
          setText(message, `Signed in again: press ${action} to send your changes.`);
          submit?.focus();
        } else {
          setText(problem, refused);
          input.setAttribute("aria-invalid", "true");
          input.focus();
        }
      };
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault(); // (not the talk form's submit: a save without a token)
          check();
        }
      });
      fill(message,
        `Not saved: your organiser token was refused (it may have been changed). Enter the organiser token, then press ${action} again: your changes are kept. `,
        h("label", { for: "organiser-token-again" }, "Organiser token"), " ",
        h("span", { class: "row" }, input, h("button", { type: "button", onclick: check }, "Sign in again")), " ", problem);
      if (!tokenAsked.has(form)) { // (once a form: a second refusal asks in the same place)
        tokenAsked.add(form);
        const leave = leaveForm;
        leaveForm = () => {
          leave();
          if (token) return;
          signIn({ focus: true });
          setText(message, "Your organiser token was refused: sign in again.");
        };
      }
      input.focus();
    }

    // `onFields`: the open form's, told each field a refusal names with what is wrong with it.
    // `form`: the talk form whose save it was, kept when the token is refused while it is open.
    function failed(error, onFields = null, form = null) {
      if (credentialRefused(error)) {
        storeToken(null);
        token = null;
        // A talk's form keeps what was typed in it (the token changed while it was open): the
        // token is asked for where the page's message stands, and Save sends it again.
        if (form && form.isConnected) return tokenAgain(form);
        signIn({ focus: true });
        setText(message, "Your organiser token was refused: sign in again.");
        return;
      }
      if (error instanceof ApiError && error.status === 409 && String(error.problem.type || "").endsWith(":talk-exists")) {
        setText(message, "A talk with this id is already in the programme: give the new one an id of its own (the Id field), or edit that talk in the list.");
        if (onFields) onFields([["id", "Another talk has this id."]]);
        return;
      }
      const problems = error instanceof ApiError && Array.isArray(error.problem.errors) ? error.problem.errors : [];
      if (problems.length) {
        refill(message, codesWhole(`Not saved: ${problems.map(fieldProblem).join(" ")}`));
        if (onFields) onFields(problems.map(problemOf).map(({ name, sentence }) => [name, sentence]));
        return;
      }
      setText(message, errorText(error));
    }

    function editor(talk) {
      if (!formMayGo()) return;
      setText(message, ""); // the last action's words are not about this form
      const isNew = talk === null;
      let revision = talk ? talk.revision : null;
      let base = talk; // the talk as this form started from, or as last seen refused
      const field = (id, label, attrs = {}) => {
        const input = h("input", { id, name: id, ...attrs });
        return [input, h("span", { class: "field" }, h("label", { for: id }, label), input)];
      };
      // Names read in their own direction (dir="auto"; a textarea's line by line).
      const [title, titleField] = field("talk-title", "Title", { required: true, maxlength: 300, value: talk ? talk.title : "", dir: "auto" });
      const [id, idField] = field("talk-id", "Id (in the talk's address)", {
        maxlength: 200, pattern: "[A-Za-z0-9][A-Za-z0-9._:~\\-]*", value: talk ? talk.id : "", disabled: !isNew,
        placeholder: "made from the title when left empty", "aria-describedby": "talk-id-help",
        // (the browser's refusal of another character names the field's title after "Please
        // match the requested format"; a kept id is no field to type in)
        ...(isNew ? { title: ID_CHARACTERS } : {}),
      });
      // Kept once the talk exists: its address, its QR code on the slides and its ratings use it.
      // A new one's characters said before they are refused, not only after.
      idField.append(h("span", { class: "muted hint", id: "talk-id-help" },
        isNew ? `${ID_CHARACTERS}.` : "Kept: the talk's address and QR code use it."));
      // One name a line: a name may hold a comma ("Grace Hopper, PhD"), never a line break.
      const speakers = h("textarea", { id: "talk-speakers", name: "talk-speakers", rows: 2, dir: "auto" });
      speakers.value = talk ? (talk.speakers || []).join("\n") : "";
      speakers.setAttribute("aria-describedby", "talk-speakers-help");
      const speakersField = h("span", { class: "field" }, h("label", { for: "talk-speakers" }, "Speakers (one per line)"), speakers,
        h("span", { class: "muted hint", id: "talk-speakers-help" }, "Up to 20 names, each at most 120 characters."));
      // The title's and the speakers' language, as its code (Latin letters, digits and dashes):
      // the pages mark them with it, and screen readers read them in its voice.
      const [language, languageField] = field("talk-language", "Language", {
        maxlength: 35, value: talk ? talk.language || "" : "", dir: "ltr", autocomplete: "off", autocapitalize: "none",
        spellcheck: "false", "aria-describedby": "talk-language-help",
      });
      languageField.append(h("span", { class: "muted hint", id: "talk-language-help" },
        codesWhole("Optional: the code of the language the title and the speakers' names are in, such as he, ar, fa, en-GB or pt-BR. Screen readers read them in it.")));
      // The fields holding the title and the names are in it too.
      // Only a tag that is one: a code being typed, or a name ("English"), would have a
      // screen reader read them in no language at all.
      const langOfFields = () => [title, speakers].forEach((input) => setLang(input, languageTag(language.value.trim())));
      language.addEventListener("change", langOfFields);
      langOfFields();
      const [trackInput, trackField] = field("talk-track", "Track", { maxlength: 100, value: talk ? talk.track || "" : "", dir: "auto" });
      const [room, roomField] = field("talk-room", "Room", { maxlength: 100, value: talk ? talk.room || "" : "", dir: "auto" });
      const [starts, startsField] = field("talk-starts", "Starts", { type: "datetime-local", "aria-describedby": "talk-zone", value: talk ? toLocalInput(talk.startsAt) : "" });
      const [ends, endsField] = field("talk-ends", "Ends", { type: "datetime-local", "aria-describedby": "talk-zone", value: talk ? toLocalInput(talk.endsAt) : "" });
      // A wall time the venue's clocks skip (the hour they go forward), and an end at or before
      // the start, are said at the field, before anything is sent.
      // A time left as it was is sent as the talk's own instant (a minute's input would drop its
      // seconds), and checked as such: read again from its input, the end of a talk over the
      // autumn's repeated hour (02:45 CEST to 02:15 CET) was the first 02:15, before the start,
      // and the talk could not be saved at all.
      // A wall time the venue's clocks show twice (the night they go back: 02:30 CEST, then
      // 02:30 CET) is asked about beside its field, each by its offset; nothing is sent until
      // one is chosen (it silently meant the first, and a talk from 02:45 CEST to 02:15 CET
      // could not be saved).
      const which = {};
      for (const [input, field] of [[starts, startsField], [ends, endsField]]) {
        which[input.id] = h("select", { id: `${input.id}-which`, hidden: true, "aria-label": `Which ${FIELD_LABELS[input === starts ? "startsAt" : "endsAt"]} time` });
        which[input.id].addEventListener("change", () => checkTimes());
        field.append(which[input.id]);
      }
      // The choice is the field's as it is now: shown with its time's two offsets, hidden when
      // that time is not repeated; the talk's own time shows its own one chosen. The talk's
      // own instant is kept while its time and that choice are left as they were (Save without
      // a change moves nothing), and the other one chosen moves it: the choice used to be
      // skipped for the talk's own time, left showing a time typed before, and not sent.
      const minuteOf = (iso) => Math.floor(Date.parse(iso) / 60000) * 60000;
      const kept = (input, name) => Boolean(base) && input.value === toLocalInput(base[name]);
      const chosen = (input, name) => {
        const select = which[input.id];
        const found = input.value ? instantsOfInput(input.value) : [];
        const twice = found.length === 2;
        // (rebuilt for another time, or for the talk's own instant as someone else saved it)
        const key = `${input.value} ${kept(input, name) ? base[name] : ""}`;
        if (twice && select.dataset.wall !== key) {
          select.dataset.wall = key;
          const wall = wallOfInput(input.value);
          // (short enough for a 320 px phone's field, whose room is about 210 px: the date and
          // time are in the field above, and its message says the hour happens twice; the
          // question with them was cut to "2026-10-25 02:30 happens twice: w")
          select.replaceChildren(h("option", { value: "" }, `Which ${input.value.slice(11, 16)}?`),
            h("option", { value: "0" }, `The first, ${offsetName(wall, found[0])}`),
            h("option", { value: "1" }, `The second, ${offsetName(wall, found[1])}`));
          const own = kept(input, name) && base[name] ? found.indexOf(minuteOf(base[name])) : -1;
          select.value = own < 0 ? "" : String(own);
        }
        select.hidden = !twice;
        if (!twice) {
          select.replaceChildren();
          delete select.dataset.wall;
        }
        return twice && select.value !== "" ? Number(select.value) : null;
      };
      const sentAs = (input, name) => {
        const choice = chosen(input, name);
        const instant = fromLocalInput(input.value, choice);
        return kept(input, name) && (choice === null || Date.parse(instant) === minuteOf(base[name])) ? base[name] ?? null : instant;
      };
      const checkTimes = () => {
        const [from, to] = [sentAs(starts, "startsAt"), sentAs(ends, "endsAt")];
        const skipped = (input, name, instant) => (instant === undefined
          ? (which[input.id].hidden
            ? `${FIELD_LABELS[name]} ${input.value.replace("T", " ")} does not exist in ${zoneName()} (its clocks skip that hour)`
            : `${FIELD_LABELS[name]} ${input.value.replace("T", " ")} happens twice in ${zoneName()} (its clocks go back over it): choose which below`)
          : "");
        const said = [skipped(starts, "startsAt", from), skipped(ends, "endsAt", to) || (from && to && Date.parse(to) <= Date.parse(from) ? "The end must be after the start." : "")];
        starts.setCustomValidity(said[0]);
        ends.setCustomValidity(said[1]);
        return !said[0] && !said[1];
      };
      starts.addEventListener("input", checkTimes);
      ends.addEventListener("input", checkTimes);
      checkTimes(); // (a talk's own repeated time shows its choice from the start)
      // The inputs and what each shows of a talk. A field the organiser left as it was keeps
      // the talk's own value when saved (a minute's input would drop a time's seconds), and
      // after someone else's save it takes theirs: only what this organiser changed is sent.
      const inputs = { title, speakers, language, track: trackInput, room, startsAt: starts, endsAt: ends };
      // A refusal's fields: each marked invalid, what is wrong said under it (and read with it),
      // the first given the keyboard. Taken off at the next save.
      const named = { ...inputs, id }; // by the API's field names
      const notes = [];
      const markRefused = (said) => {
        const invalid = [];
        for (const [name, sentence] of said) {
          const input = named[name];
          if (!input || input.disabled) continue;
          let note = notes.find((n) => n.input === input);
          if (!note) {
            note = { input, node: h("span", { class: "field-error", id: `${input.id}-error` }), describedBy: input.getAttribute("aria-describedby") };
            notes.push(note);
            input.after(note.node);
            input.setAttribute("aria-invalid", "true");
            input.setAttribute("aria-describedby", [note.node.id, note.describedBy].filter(Boolean).join(" "));
            invalid.push(input);
          }
          append(note.node, [note.node.textContent ? " " : "", codesWhole(sentence)]);
        }
        if (invalid.length) invalid[0].focus();
      };
      const unmark = () => {
        for (const { input, node, describedBy } of notes.splice(0)) {
          node.remove();
          input.removeAttribute("aria-invalid");
          if (describedBy) input.setAttribute("aria-describedby", describedBy);
          else input.removeAttribute("aria-describedby");
        }
      };
      const shown = (of) => ({
        title: of.title, speakers: (of.speakers || []).join("\n"), language: of.language || "", track: of.track || "", room: of.room || "",
        startsAt: toLocalInput(of.startsAt), endsAt: toLocalInput(of.endsAt),
      });
      // A time moved to the other of its repeated hour by the choice alone (its field's wall time
      // as it was) is a change of that field too: counted as edited, kept over someone else's
      // save, and not taken as "already saved" (it used to be compared by its wall time only).
      const TIMES = ["startsAt", "endsAt"];
      const minuteOrNull = (iso) => (iso ? minuteOf(iso) : null);
      const movedByChoice = (k, of) => TIMES.includes(k) && minuteOrNull(sentAs(inputs[k], k)) !== minuteOrNull(of[k]);
      const edited = () => (base ? Object.keys(inputs).filter((k) => inputs[k].value !== shown(base)[k] || movedByChoice(k, base)) : Object.keys(inputs));
      const heading = h("h2", { tabindex: "-1" }, isNew ? "Add a talk" : ["Edit ", quoted(talk.title, talk.language)]);
      // One save at a time: a second press while the first is on its way (a slow network) sent
      // the form again, and its refusal (the talk's new revision, the id now taken) was told as
      // someone else's change. The button says so meanwhile, and keeps the keyboard focus.
      const label = isNew ? "Add the talk" : "Save";
      const submit = h("button", { type: "submit" }, label);
      let saving = false;
      const busy = (yes) => {
        saving = yes;
        submit.toggleAttribute("aria-disabled", yes);
        setText(submit, yes ? (isNew ? "Adding…" : "Saving…") : label);
      };
      // The last refusal is not about what is tried now (a click comes before the browser's own
      // checks, which may stop the save there: the end before the start).
      submit.addEventListener("click", () => {
        if (saving) return;
        setText(message, "");
        unmark();
      });
      const buttons = h("span", { class: "row" },
        submit,
        h("button", { type: "button", class: "quiet", onclick: () => {
          closeForm();
          focusAfter(isNew ? null : talk.id);
        } }, "Cancel"));
      // A save whose answer never came (the network dropped it, or it timed out) may have
      // been applied: sent again, the API refuses it (the talk's revision moved, the id is
      // taken). When the talk is now what the form says, that save went through: said so,
      // not told as someone else's change.
      // (a language in any case: the service keeps it in the registry's, "en-GB" for "en-gb")
      const asInTheForm = (now) => Boolean(now) && Object.keys(inputs).every((k) => (shown(now)[k] === inputs[k].value && !movedByChoice(k, now))
        || (k === "language" && shown(now)[k].toLowerCase() === inputs[k].value.trim().toLowerCase()));
      const done = async (said, savedId) => {
        closeForm();
        fill(message, said);
        const ours = await readListAfter(() => {
          append(message, [overlapWarning([savedId])]);
          if (hiddenBySearch(savedId)) append(message, notShown(savedId));
        });
        if (ours) focusAfter(savedId);
      };

      // After a save stopped by someone else's (412): their version as the service has it now,
      // with its own revision; null when the talk is gone (404). Any other failure rejects.
      const readTheirs = () => request("GET", talkPath(talk.id)).then(
        (r) => (r.body?.revision != null ? r.body : Promise.reject(new ApiError(500, null))),
        (error) => (error instanceof ApiError && error.status === 404 ? null : Promise.reject(error)));
      // What this form last said of another organiser's save (that it reads their version
      // again, their version shown, the talk removed): words about this form, taken away with
      // it (see leave) if still shown.
      let said = null;
      const say = (...parts) => {
        fill(message, ...parts);
        said = message.textContent;
      };
      // Their version in the form, with this organiser's changes over it: a field only they
      // changed takes their value, so saving again undoes nothing this organiser did not touch
      // (it used to send the whole form back, their fix of a title included). A field both
      // changed keeps this organiser's, and is named. Their revision is taken only with their
      // version as read, so the form's base and the revision it is saved over are one
      // version's. "This organiser's changes" are the form's as it is now: it stays open, and
      // may have been typed in, while their version was read again.
      // The form, its revision and the words saying so change in one step, the list read
      // after: the words used to wait for the list, and a Save meanwhile (a hall's slow Wi-Fi)
      // went over their version unsaid, a title both had changed with it.
      const takeTheirs = (theirs) => {
        const mine = edited();
        const what = changedFields(base, theirs);
        const both = mine.filter((k) => shown(theirs)[k] !== shown(base)[k]
          || (TIMES.includes(k) && minuteOrNull(theirs[k]) !== minuteOrNull(base[k])));
        const now = shown(theirs);
        // (which of a repeated hour this organiser chose for a time they changed: kept over
        // theirs, whose own one the choice would otherwise show)
        const choices = TIMES.filter((k) => mine.includes(k)).map((k) => [which[inputs[k].id], which[inputs[k].id].value]);
        for (const k of Object.keys(inputs)) if (!mine.includes(k)) inputs[k].value = now[k];
        langOfFields();
        base = theirs;
        revision = theirs.revision;
        checkTimes();
        for (const [select, value] of choices) if (!select.hidden && value !== "") select.value = value;
        checkTimes();
        const yours = mine.map((k) => FIELD_NAMES[k]);
        const changedBy = what.length ? ` (they changed ${listed(what)})` : "";
        const withYours = yours.length ? ` with your changes to ${listed(yours)}` : "";
        const keptYours = both.length ? `; you both changed ${listed(both.map((k) => FIELD_NAMES[k]))}, and the form keeps yours` : "";
        say(["Someone else saved ", quoted(talk.title, talk.language), ` while you edited it${changedBy}: nothing was saved. `
          + `The form now shows their version${withYours}`
          + `${keptYours}: Save again to apply ${yours.length ? "your changes" : "it"}, or Cancel.`]);
        load().catch(() => {});
      };
      // A removed talk is added again with the form as it is, where no talk has its id then
      // (another organiser's talk added under it meanwhile is not overwritten: 412, theirs read).
      const removedMeanwhile = () => {
        if (!form.isConnected) return;
        revision = GONE;
        say(quoted(talk.title, talk.language), " was removed by someone else while you edited it: nothing was saved. Save again to add it back with your changes, or Cancel.");
        load().catch(() => {});
      };
      // Their version read, or the talk found gone: in the form, or the save said done when
      // the talk is now what the form says (an earlier try had gone through). Nothing when
      // this form is no longer open (closed, or another form in its place, the same talk's
      // too): it is not theirs to fill.
      const theirsRead = (theirs) => {
        if (!form.isConnected) return undefined;
        if (theirs === null) return removedMeanwhile();
        if (asInTheForm(theirs)) return done(["Saved ", quoted(theirs.title, theirs.language), " (an earlier try had gone through)."], talk.id).catch(failed);
        return takeTheirs(theirs);
      };
      // Their version could not be read (a hall's Wi-Fi, a busy service): the form keeps the
      // old revision and the organiser's values, and the page reads it again by itself, 1, 2,
      // 4, 8, 16 s and then every 30 s after each failure (later when the service asks with
      // Retry-After, up to 30 s), while the form is open. It used to wait for the organiser's
      // next Save, and the form went on showing a version that was no longer the talk's.
      // Until their version is shown nothing is saved: a Save meanwhile sends nothing (it
      // would go over a version this organiser has not seen) and reads it at once instead.
      let unread = null; // { tries, timer, reading, lead } while their version is to be read
      const sentenceOf = (error) => {
        const first = errorText(error).split(/\.(\s|$)/)[0];
        return `${first.charAt(0).toLowerCase()}${first.slice(1)}`;
      };
      const readAgainLater = (error) => {
        const wait = rereadAfterS(unread.tries, error);
        unread.tries += 1;
        clearTimeout(unread.timer);
        unread.timer = setTimeout(readTheirsAgain, wait * 1000);
        say(unread.lead, ` Their version could not be read (${sentenceOf(error)}): reading it again in ${wait} s. `
          + "The form keeps yours as you left it until theirs is shown, and cannot be saved until then; or Cancel.");
      };
      // The form closed (Cancel, a save, another form, signing out, the page left): no read
      // comes, and the page no longer says one will, nor that the form can be saved again.
      const leave = () => {
        if (unread) clearTimeout(unread.timer);
        unread = null;
        if (said !== null && message.textContent === said) setText(message, "");
        said = null;
      };
      const readTheirsAgain = async () => {
        if (!unread || unread.reading) return undefined;
        clearTimeout(unread.timer);
        if (!form.isConnected) return leave(); // the page was left
        const reading = unread;
        reading.reading = true;
        let theirs;
        try {
          theirs = await readTheirs();
        } catch (error) {
          reading.reading = false;
          if (unread === reading && form.isConnected) readAgainLater(error);
          return undefined;
        }
        if (unread !== reading) return undefined; // the form was closed meanwhile
        // Save stays refused (unread) until their version is in the form and said.
        unread = null;
        return theirsRead(theirs);
      };
      // A new talk's Idempotency-Key, kept while the form sends the same talk: Add pressed
      // again after an answer was lost is answered as that add was (the talk added once), not
      // refused as taken. A talk changed in the form since goes under a new key.
      let added = null; // { key, talk: the talk it was sent with, as JSON }
      const addKey = (talk) => {
        const sent = JSON.stringify(talk);
        if (!added || added.talk !== sent) added = { key: idempotencyKey(), talk: sent };
        return added.key;
      };
      const form = h("form", { class: "card talk-form", "data-action": label, "data-talk": isNew ? null : talk.id, onsubmit: async (event) => {
        event.preventDefault();
        if (saving) return;
        if (unread) {
          unread.lead = ["Not saved yet: their version is read first (someone else saved ", quoted(talk.title, talk.language), " while you edited it)."];
          say(unread.lead);
          readTheirsAgain();
          return;
        }
        if (!checkTimes()) {
          (starts.validationMessage ? starts : ends).reportValidity();
          return;
        }
        const fields = {
          title: title.value.trim(),
          speakers: speakers.value.split("\n").map((s) => s.trim()).filter(Boolean),
          language: language.value.trim() || null,
          track: trackInput.value.trim() || null,
          room: room.value.trim() || null,
          startsAt: sentAs(starts, "startsAt"),
          endsAt: sentAs(ends, "endsAt"),
        };
        let newId = null;
        busy(true);
        try {
          // A direction control (U+202E pasted with a name) is refused here as the API refuses
          // it, in its words, before anything is sent: a talk saved before it was refused
          // brings its own back.
          const refusals = directionRefusals(fields, (await programmeFile()).directionControl);
          if (refusals.length) {
            setText(message, "Not saved: " + refusals.map(([name, sentence]) => `${FIELD_LABELS[name]}: ${sentence}`).join(" "));
            markRefused(refusals);
            return;
          }
          if (isNew) {
            const { slug } = await programmeFile();
            newId = id.value.trim() || slug(fields.title);
            const adding = { id: newId, ...fields };
            const created = await admin("POST", "/talks", adding, undefined, { "Idempotency-Key": addKey(adding) });
            await done(["Added ", quoted(created.body.title, created.body.language), "."], created.body.id);
          } else {
            await admin("PUT", talkPath(talk.id), fields, revision);
            await done(["Saved ", quoted(fields.title, fields.language), "."], talk.id);
          }
        } catch (error) {
          if (isNew && error instanceof ApiError && error.status === 409 && newId !== null) {
            const existing = await request("GET", talkPath(newId)).then((r) => r.body, () => null);
            if (asInTheForm(existing)) {
              await done(["Added ", quoted(existing.title, existing.language), " (an earlier try had gone through)."], newId).catch(failed);
              return;
            }
          }
          if (!isNew && changedMeanwhile(error)) {
            // Their version is read (again, by the page, while it cannot be: readTheirsAgain).
            if ((error.problem.revision ?? null) === null) removedMeanwhile();
            else {
              unread = { tries: 0, lead: ["Someone else saved ", quoted(talk.title, talk.language), " while you edited it: nothing was saved."] };
              await readTheirsAgain();
            }
            if (form.isConnected) heading.focus();
            return;
          }
          failed(error, markRefused, form);
        } finally {
          busy(false);
        }
      } },
        heading, titleField, idField, speakersField, languageField, trackField, roomField,
        h("span", { class: "row two" }, startsField, endsField),
        h("p", { class: "muted", id: "talk-zone" }, `Times in ${zoneName()}, ${venueZone() ? "the venue's" : "this device's"} time zone.`),
        buttons);
      // (a save on its way is not asked about: it is being saved)
      const held = () => {
        if (saving || !form.isConnected) return null;
        if (isNew) {
          return [id, ...Object.values(inputs)].some((input) => input.value.trim())
            ? "Discard the talk you were adding? It has not been added." : null;
        }
        return edited().length ? `Discard your changes to “${isolatedText(talk.title)}”? They have not been saved.` : null;
      };
      showForm(form, buttons, leave, held, () => heading.focus());
      heading.focus();
    }

    // Import a programme file as `talkrate admin import` does (its rules and words are
    // programme-file.js's): the file is read and checked whole, and what it would do is shown
    // (added, changed with what changes, unchanged, refused lines) before anything is sent; the
    // import sends each added or changed talk through PUT /talks/{id}, only over the talk as it
    // was read (If-Match) or where there was none (If-None-Match), as the CLI does.
    function importer() {
      if (!formMayGo()) return;
      setText(message, "");
      const heading = h("h2", { tabindex: "-1" }, "Import a programme");
      // The file is taken when chosen and the input emptied: a browser tells no change when the
      // file the input holds is chosen again, so a file fixed after its refusal and chosen again
      // was never read. The preview names the file it shows (the input no longer does), and a
      // screen reader hears that with the input.
      const file = h("input", { id: "import-file", type: "file", accept: ".csv,text/csv,text/plain", "aria-describedby": "import-read import-help" });
      const preview = h("div", { class: "import-preview" });
      const apply = h("button", { type: "submit", hidden: true }, "Import");
      let read = null; // the file's rows and refusals
      let plan = null; // what importing them would do, as last shown
      let source = ""; // which file they are, and when it was read
      const close = () => {
        closeForm();
        importButton.focus();
      };
      const summaryOf = (p) => [`${p.created.length} to add`, `${p.updated.length} to change`, `${p.unchanged.length} unchanged`].join(", ")
        + (p.notInFile.length ? `; ${plural(p.notInFile.length, "talk", "talks")} of the programme not in the file, left as they are` : "");
      const line = (row, text) => h("li", {}, `Line ${row.line}: `,
        h("strong", { lang: ("language" in row.fields ? row.fields : row.current || {}).language }, row.fields.title), ` (${row.talkId})${text}`);
      const show = (note = "") => {
        const errors = plan.errors;
        const sendable = plan.created.length + plan.updated.length;
        apply.hidden = errors.length > 0 || sendable === 0;
        setText(apply, `Import: add ${plan.created.length}, change ${plan.updated.length}`);
        const title = h("h3", { tabindex: "-1" }, errors.length ? "This file cannot be imported" : "What the import would do");
        fill(preview, title,
          h("p", { class: "muted", id: "import-read" }, source),
          note ? h("p", {}, note) : null,
          errors.length
            ? [h("p", {}, `Nothing was changed. Fix ${new Set(errors.map((e) => e.line)).size === 1 ? "this line" : "these lines"} of the file and choose it again:`),
              h("ul", { class: "import-errors" }, errors.map((e) => h("li", {}, codesWhole(e.message))))]
            : h("p", {}, sendable ? `${summaryOf(plan)}.` : `Nothing to change: every talk of the file is as the programme has it (${summaryOf(plan)}).`),
          // The room clashes the import would leave, before it is made, as `admin import
          // --dry-run` says them: the page said them only once the talks were imported.
          !errors.length && plan.clashes ? h("p", { "data-testid": "import-clashes" }, plan.clashes) : null,
          // The paused talks it would leave so, and an export's ratingsPaused cells it would not
          // apply, as `admin import --dry-run` says them after its summary.
          !errors.length && pausedNote(plan.paused, true) ? h("p", { "data-testid": "import-paused" }, pausedNote(plan.paused, true)) : null,
          !errors.length && pauseNotAppliedNote(plan.pausedNotApplied, true)
            ? h("p", { "data-testid": "import-pause-not-applied" }, pauseNotAppliedNote(plan.pausedNotApplied, true)) : null,
          plan.created.length && !errors.length ? [h("h4", {}, "To add"), h("ul", {}, plan.created.map((row) => line(row, "")))] : null,
          plan.updated.length && !errors.length ? [h("h4", {}, "To change"),
            h("ul", {}, plan.updated.map((row) => line(row, `: ${listed(row.changes.map((k) => FIELD_NAMES[k]))}`)))] : null);
        title.focus();
      };
      // (with the room clashes of the file's talks in the programme as the import would leave
      // it: each row over its talk, beside the talks the file does not name)
      const check = async () => {
        const { planImport, importBody } = await programmeFile();
        const now = await allTalks();
        plan = planImport(read, now);
        const after = new Map(now.map((talk) => [talk.id, talk]));
        for (const row of [...plan.created, ...plan.updated]) after.set(row.talkId, { ...importBody(row, row.current), id: row.talkId });
        const named = [...plan.created, ...plan.updated, ...plan.unchanged].map((row) => row.talkId);
        plan.clashes = overlapWarning(named, [...after.values()], "Check the times before importing: ");
      };
      const notChecked = (chosen, error) => h("p", { id: "import-read" }, `${chosen.name} could not be checked: ${errorText(error)} Choose it again to try again.`);
      file.addEventListener("change", async () => {
        read = plan = null;
        apply.hidden = true;
        const chosen = file.files[0];
        if (!chosen) return fill(preview);
        file.value = "";
        source = `${chosen.name}, read at ${formatZoned(new Date().toISOString(), { second: "2-digit" })}.`;
        fill(preview, h("p", { id: "import-read" }, `Reading ${chosen.name}…`));
        let rules;
        try {
          rules = await programmeFile();
        } catch (error) {
          return fill(preview, notChecked(chosen, error));
        }
        const { readProgramme, ProgrammeError, notUtf8, unreadableText } = rules;
        try {
          let text;
          try {
            text = new TextDecoder("utf-8", { fatal: true }).decode(await chosen.arrayBuffer());
          } catch {
            throw new ProgrammeError(notUtf8(chosen.name));
          }
          // A NUL: UTF-16 without a byte-order mark (not UTF-8), or one put in UTF-8 text
          const unreadable = unreadableText(chosen.name, text);
          if (unreadable) throw unreadable;
          read = readProgramme(text, venueZone());
          await check();
          show();
        } catch (error) {
          if (!(error instanceof ProgrammeError)) return fill(preview, notChecked(chosen, error));
          plan = { created: [], updated: [], unchanged: [], notInFile: [], errors: [error] };
          show();
        }
      });
      // One import at a time: a second press while the first checked the programme (a slow
      // network) sent every row again, and told the organiser their own first rows as "changed by
      // someone else meanwhile", and nothing imported (the toolbar's button waits too: a second
      // import's form would send the rows the first had not sent yet). Cancel while it runs
      // stops it after the row on its way (said, with what went in).
      let importing = false;
      let cancelled = false;
      const form = h("form", { class: "card talk-form", onsubmit: async (event) => {
        event.preventDefault();
        if (importing || !plan || plan.errors.length) return;
        importing = true;
        importButton.disabled = true;
        try {
          await importPlan();
        } finally {
          importing = false;
          apply.disabled = false;
          importButton.disabled = false;
        }
      } },
        heading,
        h("span", { class: "field" }, h("label", { for: "import-file" }, "Programme file (CSV)"), file),
        h("p", { class: "muted", id: "import-help" }, codesWhole(
          // (the file's cells may be separated as a spreadsheet saves them: an organiser with a
          // European Excel, whose .csv is ;-separated, was not told it is read)
          "A spreadsheet saved as CSV, its cells separated by commas, semicolons or tabs, with the columns of the results file: "
          + "id, title, speakers (separated by ;), track, room, startsAt, endsAt "
          + `(${venueZone() ? "a time without a zone is the venue's, " + venueZone() : "with a time zone"}), language (such as he or en-GB). `
          + "A column the file lacks leaves that field as it is; talks not in the file are left as they are. Nothing changes before you import.")),
        preview,
        h("span", { class: "row" }, apply, h("button", { type: "button", class: "quiet", onclick: () => {
          cancelled = importing;
          close();
        } }, "Cancel")));
      const importPlan = async () => {
        const asked = turns; // (a form opened meanwhile is the organiser's: its line and focus)
        const shown = summaryOf(plan) + JSON.stringify([...plan.created, ...plan.updated].map((row) => [row.talkId, row.changes]));
        apply.disabled = true;
        try {
          // The programme as it is now: another organiser may have changed it since the preview.
          await check();
        } catch (error) {
          return failed(error);
        }
        if (plan.errors.length || summaryOf(plan) + JSON.stringify([...plan.created, ...plan.updated].map((row) => [row.talkId, row.changes])) !== shown) {
          show("The programme changed since the file was read: this is what the import would do now.");
          return;
        }
        setText(apply, "Importing…");
        const done = { added: 0, changed: 0 };
        const refused = [];
        const rows = [...plan.created, ...plan.updated];
        let sent = 0;
        const went = () => `${done.added} added, ${done.changed} changed`;
        for (const row of rows) {
          if (cancelled) break;
          const headers = { Authorization: `Bearer ${token}` };
          if (row.current) headers["If-Match"] = `"${row.current.revision}"`;
          else headers["If-None-Match"] = "*";
          sent += 1;
          try {
            await request("PUT", talkPath(row.talkId), { body: (await programmeFile()).importBody(row, row.current), headers });
            done[row.current ? "changed" : "added"] += 1;
          } catch (error) {
            if (credentialRefused(error)) {
              // (what went in before the refusal is said too: the rows after it were not sent)
              // (and the file's paused talks, left so, as after Cancel: the rows that went in
              // before the refusal are imported)
              failed(error);
              append(message, [` The import stopped there: ${went()}; ${rows.length - sent + 1} not sent.`
                + (refused.length ? ` Not imported either: ${refused.join("; ")}.` : ""),
              [pausedNote(plan.paused, false, { signedOut: true }), pauseNotAppliedNote(plan.pausedNotApplied, false)]
                .filter(Boolean).map((note) => [" ", note])]);
              return;
            }
            refused.push(`line ${row.line} (${row.talkId}): ${error instanceof ApiError && error.status === 412
              ? "changed by someone else meanwhile; choose the file again to import it over their change" : errorText(error)}`);
          }
        }
        importButton.disabled = false; // (it takes the keyboard back below)
        // (a form the organiser opened meanwhile stays open, and keeps the keyboard: only the
        // import's own is closed; its words are said above that form, its own line left to it)
        const theirs = turns !== asked;
        if (form.isConnected) closeForm();
        const stopped = rows.length - sent;
        const said = `${stopped ? "Import stopped at Cancel" : "Imported"}: ${went()}, ${plan.unchanged.length} unchanged.`
          + (stopped ? ` ${stopped} not imported (choose the file again to import them).` : "")
          + (refused.length ? ` Not imported: ${refused.join("; ")}.` : "");
        // (then the file's paused talks, left so, and the ratingsPaused cells not applied)
        // (the paused talks' rows the search hides said so, with a way to them: pausedBySearch)
        const pausedWords = pausedNote(plan.paused, false);
        const words = [said, [pausedWords && [pausedWords, pausedBySearch(plan.paused.map((row) => row.talkId))],
          pauseNotAppliedNote(plan.pausedNotApplied, false)].filter(Boolean).map((note) => [" ", note])];
        if (theirs && formBox.firstChild) {
          // In the page empty first, its words a moment later: a status line added with its
          // words already in it is not read out by every screen reader.
          formBox.before(importLine);
          setTimeout(() => {
            if (importLine.isConnected) fill(importLine, words);
          }, 100);
        } else refill(message, words);
        if (theirs) {
          readListAfter();
          return;
        }
        if (await readListAfter(() => append(message, [overlapWarning(rows.map((row) => row.talkId))]))) importButton.focus();
      };
      showForm(form);
      heading.focus();
    }

    // A file made in the page, saved as the browser saves a download.
    function save(blob, name) {
      const link = h("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    }

    async function downloadCsv() {
      try {
        const { resultsCsv } = await programmeFile();
        const talks = await allTalks();
        // The leaderboard's prior (its score's rule) for the ranks, as the command line reads
        // it; not asked for a programme listed without its ratings (resultsCsv says why).
        const prior = talks.every((talk) => talk.summary) ? (await request("GET", "/leaderboard?limit=1")).body.prior : null;
        const csv = resultsCsv(talks, prior, { decimalComma: decimalComma.checked });
        // A byte-order mark first: spreadsheets opening the file read it as UTF-8 then. Named by
        // the venue's day (the organiser's own without one): an export just after midnight is
        // that day's, not UTC's.
        const name = `talkrate-results-${dayOf(Date.now())}.csv`;
        save(new Blob(["\uFEFF", csv], { type: "text/csv;charset=utf-8" }), name);
        // (in the message line's place of a refusal an earlier try left: "Nothing was downloaded")
        turns += 1;
        setText(message, `Downloaded the results: ${name}.`);
      } catch (error) {
        turns += 1;
        failed(error);
      }
    }

    // A talk's QR code for the speaker's slides: its page's address (the one the room screen
    // shows), as an SVG sharp at any size, with its quiet zone.
    function downloadQr(talk) {
      const address = `${location.origin}${talkHref(talk.id)}`;
      const svg = qrSvg(address, `QR code of ${address}`);
      svg.setAttribute("width", "1024");
      svg.setAttribute("height", "1024");
      const file = new XMLSerializer().serializeToString(svg);
      const name = `talkrate-qr-${talk.id.replace(/[^A-Za-z0-9._-]/g, "_")}.svg`;
      save(new Blob([file], { type: "image/svg+xml" }), name);
      // Said as the results' download is (the page said nothing: a screen reader heard no word
      // of the file, and on a phone the press seemed to do nothing), unless a form is open: its
      // line stands in that form, and is about it.
      if (formBox.firstChild) return;
      turns += 1;
      fill(message, "Downloaded the QR code of ", quoted(talk.title, talk.language), `: ${name}.`);
    }

  }

  if (token) manage();
  else signIn();
  return () => {
    unguard();
    removeEventListener("beforeunload", beforeUnload);
    stopLive();
  };
}
