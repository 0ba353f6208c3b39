// The API, on the page's own origin. Errors are problem+json: thrown as ApiError.
import { useTimeZone, useDeviceZone, zoneDecided } from "./zone.js";

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }
}

// API Gateway's own throttle (a crowd at a keynote's end): a 429 that is not the API's problem
// document. No function saw the request, so it is safe to send again, and it is nobody's limit.
// The service's refusal of who is asking: a voter token it does not take (expired, revoked, its
// signing key replaced), or an organiser token.
export const credentialRefused = (error) => error instanceof ApiError && (error.status === 401 || error.status === 403);
// Every pass of this voter is refused (ops forget-voter): a renewed one is too.
export const forgottenVoter = (error) => error instanceof ApiError && error.status === 401 && String(error.problem.type || "").endsWith(":forgotten-voter");
export const gatewayBusy = (error) => error instanceof ApiError && error.status === 429 && !error.problem.title && !error.problem.detail;
// The service cannot check a voter pass until it reads its keys again (a key put since it last
// read them may have signed it): a 429 with Retry-After that is "later", not a limit nor a
// refusal. The pass is kept and sent again, with the rating's key: a new pass would be a new
// voter, whose re-rated talks would count twice.
// The API cannot read its counts just now (its read model's store does not answer): the
// leaderboard has nothing honest to show, and says why (see common.js unreadable).
export const countsUnreadable = (error) => error instanceof ApiError && error.status === 503 && String(error.problem.type || "").endsWith(":read-model-unavailable");
export const keysUpdating = (error) => error instanceof ApiError && error.status === 429 && String(error.problem.type || "").endsWith(":voter-keys-updating");

// The service's clock. A phone's or a room PC's clock may be wrong by minutes or days, so every
// answer's Date header checks it; the device's own clock until the first answer.
let skew = 0;
let spans = [];
export const serviceNow = () => Date.now() + skew;

// What an answer's Date (and Age, when a cache kept it) tell of the device's clock: the span of
// ms to add to it, or null without a Date. The Date is whole seconds, cut down, written while the
// request was on its way, so at the answer the service's time was within [Date + Age, that + 1 s
// (+ 1 s more for Age's own whole seconds) + the round trip]. `sentAt` and `now` are the device's
// clock at the request's start and at the answer.
export function skewSpan(date, age, sentAt, now) {
  const served = Date.parse(date);
  if (!Number.isFinite(served)) return null;
  const kept = Number(age);
  const cached = Number.isFinite(kept) && kept > 0;
  const earliest = served + (cached ? kept * 1000 : 0);
  const trip = Math.max(0, now - sentAt);
  return { low: earliest - now, high: earliest + (cached ? 2000 : 1000) + trip - now, cached, trip };
}

// The skew one span allows, nearest the device's own clock. A device clock within the span is
// believed as it is: taking the Date itself set a right clock back by up to a second, the stars
// off in a talk's first second while the service took ratings. One outside is moved to the
// span's nearer end, the least that makes it possible: it keeps what the device knows below a
// second when it is a little off, and is wrong by no more than the span (as the Date alone was).
const nearest = ({ low, high }) => Math.min(Math.max(0, low), high);
export function skewHeard(date, age, sentAt, now) {
  const span = skewSpan(date, age, sentAt, now);
  return span && nearest(span);
}

// Every answer's span holds the same skew, so the answers heard narrow it together: taken at
// different phases of the service's second, their intersection closes in on the round trip
// where one answer leaves a second. `kept` are the spans heard so far; `span` is the new
// answer's, heard at `at` by the page's steady clock (performance.now()), the device's clock then
// `apart` ms past that steady one. The answer: the spans to keep and the skew, the device's own
// clock moved the least into their intersection. What would break an intersection, and what is
// done about it:
// - the device's clock set between answers (by its user, or stepped by NTP): its skew is then
//   another. The spans are kept as what to add to the steady clock, which runs on untouched, and
//   taken back to the device's clock as it is at each answer: a clock set moves them with it.
// - drift: a steady clock running fast or slow moves them by some ms a minute, so a span older
//   than SPAN_KEPT_MS (10 minutes: 30 ms at a crystal's 50 ppm) is forgotten.
// - a cache's Age (whole seconds, from a clock the page cannot check) and a round trip longer
//   than LONG_TRIP_MS (a device asleep or a page in the background in its middle, when both
//   clocks' measures of it are in doubt) give wide spans that may lie: such an answer narrows
//   nothing, and sets the clock (alone, as before) only while no other span is kept.
// - anything else that lies (a steady clock stopped while the device slept, on some systems; a
//   Date not written while its request was on its way): the newest span is always kept, and the
//   oldest dropped until the rest meet it. The skew thus lies within the latest answer's span,
//   as it did when that answer alone set it: an intersection gone wrong costs no more than that.
const SPAN_KEPT_MS = 10 * 60_000;
const LONG_TRIP_MS = 5000;
const SPANS_KEPT = 32;
const meet = (list, apart) => ({
  low: Math.max(...list.map((s) => s.low)) - apart,
  high: Math.min(...list.map((s) => s.high)) - apart,
});
export function skewNarrowed(kept, span, at, apart) {
  const still = kept.filter((s) => at - s.at < SPAN_KEPT_MS);
  if (span.cached || span.trip > LONG_TRIP_MS) return { spans: still, skew: nearest(still.length ? meet(still, apart) : span) };
  const next = [...still, { low: span.low + apart, high: span.high + apart, at }].slice(-SPANS_KEPT);
  while (next.length > 1 && meet(next, 0).low > meet(next, 0).high) next.shift();
  return { spans: next, skew: nearest(meet(next, apart)) };
}

// `sentAt`: the device's clock and the steady one as the request went. The round trip is the
// longer of the two clocks' measures: the device's is cut short by its clock set back while the
// request was on its way, the steady one's by a device asleep (on some systems it stops then).
function heardClock(response, sentAt) {
  const steady = performance.now();
  const now = Date.now();
  const trip = Math.max(now - sentAt.device, steady - sentAt.steady);
  const span = skewSpan(response.headers.get("date"), response.headers.get("age"), now - trip, now);
  if (span === null) return;
  ({ spans, skew } = skewNarrowed(spans, span, steady, now - steady));
}

// A request the network leaves hanging (a hall's Wi-Fi that lost its way out, a connection that
// died without a word) is given up after this long without its answer's headers, and again
// without its body, as one that could not reach the service: a page's polling goes on instead of
// waiting on it for good, and a rating is sent again under its key. The API itself gives up
// within 12 s.
export const REQUEST_TIMEOUT_MS = 15_000;

const unreachable = () => new ApiError(0, { title: "The service cannot be reached", detail: "Check your connection; the page retries on its own." });

// Pages draw times from the API's answers, in the zone config.json names (the venue's): an
// answer is handed over once the page's zone is taken (zone.js), so that no time is drawn in
// the device's zone and then changes. The config's read is made beside the first request, not
// before it (no page waits a round trip more), and waited for CONFIG_WAIT_MS at most from then:
// a config that fails or hangs (a captive portal) leaves the device's zone, named, for the
// page's life, rather than a blank page for the read's whole timeout.
const CONFIG_WAIT_MS = 5000;
let zoneTaken = null;

function zoneTakenSoon() {
  if (zoneDecided()) return Promise.resolve();
  zoneTaken ??= new Promise((resolve) => {
    const late = setTimeout(() => {
      useDeviceZone();
      resolve();
    }, CONFIG_WAIT_MS);
    appConfig().then(() => {
      clearTimeout(late);
      useDeviceZone(); // after a failed read (a read that came took its zone already)
      resolve();
    });
  });
  return zoneTaken;
}

export async function request(method, path, options) {
  const zone = zoneTakenSoon();
  try {
    return await send(method, path, options);
  } finally {
    await zone;
  }
}

async function send(method, path, { body, headers } = {}) {
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  let text;
  const sentAt = { device: Date.now(), steady: performance.now() };
  try {
    response = await fetch(path, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: "no-store",
      signal: abort.signal,
    });
    heardClock(response, sentAt);
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    text = await response.text();
  } catch {
    throw unreachable();
  } finally {
    clearTimeout(timer);
  }
  let value = null;
  if (text) {
    try {
      value = JSON.parse(text);
    } catch {
      // Not the API's answer (a CDN's or a gateway's HTML error page): never shown as it is.
      value = null;
    }
  }
  if (!response.ok) {
    const retry = Number(response.headers.get("retry-after"));
    throw new ApiError(response.status, value, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return { status: response.status, body: value, response };
}

export const get = async (path) => (await request("GET", path)).body;

// An Idempotency-Key (16 random bytes in hex): a POST sent again with it, its answer lost on
// the way, is answered as the first was and creates nothing more (a talk, a voter).
export const idempotencyKey = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");

// Reads of one thing that overlap (a live message, a reconnection, a poll, an action's read) may
// be answered out of order: an answer is drawn only when its read started after the one drawn
// last, so a slow answer of an older state never puts it back over a newer one (until the next
// read, a minute later when no message told of the change). Not "only the newest started": on a
// slow network, with reads started faster than they are answered, none would ever be drawn.
// `start()` as a read is sent; with its answer, the read's `draws()` says whether to draw it
// (and takes it as the one drawn); with its failure, `newest()` whether nothing started after it
// was drawn meanwhile (its failure is then news to say).
export function readsInOrder() {
  let started = 0;
  let drawn = 0;
  return {
    start() {
      const read = ++started;
      return {
        draws() {
          if (read < drawn) return false;
          drawn = read;
          return true;
        },
        newest: () => read > drawn,
      };
    },
  };
}

let configPromise = null;
// /app/config.json: {"live": null | {realtimeUrl, host, apiKey}, "votingPolicy": "open" | "attendee",
// "timeZone": null | "Europe/Berlin"}; its time zone is taken as it is read (zone.js).
// A read that failed (a phone on a crowded hall's Wi-Fi) is not kept: the answer says `unknown`
// and the next call asks again; `fresh` asks again anyway (a live channel that refuses the page).
export function appConfig({ fresh = false } = {}) {
  if (fresh) configPromise = null;
  if (!configPromise) {
    configPromise = send("GET", "/app/config.json").then(({ body }) => {
      useTimeZone(body && body.timeZone);
      return body;
    }).catch(() => {
      configPromise = null;
      useDeviceZone(); // the page's zone is taken now, not when a later read comes (zone.js)
      return { live: null, votingPolicy: "open", unknown: true };
    });
  }
  return configPromise;
}

// Every talk of the programme (pages of 100), each with its summary. The pages follow the
// programme's order: a talk added, removed or moved in time between two of them shifts the rest,
// one talk read twice and another not at all. A talk read twice is kept once; a total that
// changed between pages, or fewer talks than it, reads the programme again (three reads, then
// the last one: the page reads it again soon). `rebuilding` on the list: a page said the talks
// come without their summaries while the service recounts them; `unavailable`, because the
// service cannot read them just now.
export async function allTalks() {
  let talks = [];
  for (let read = 0; read < 3; read += 1) {
    const byId = new Map();
    const totals = new Set();
    let rebuilding = false;
    let unavailable = false;
    for (let offset = 0; offset < 100000; offset += 100) {
      const page = await get(`/talks?limit=100&offset=${offset}`);
      totals.add(page.total);
      rebuilding ||= Boolean(page.rebuilding);
      unavailable ||= Boolean(page.unavailable);
      for (const talk of page.items) if (!byId.has(talk.id)) byId.set(talk.id, talk);
      if (page.items.length === 0 || offset + page.items.length >= page.total) break;
    }
    talks = Object.assign([...byId.values()], { rebuilding, unavailable });
    if (totals.size <= 1 && talks.length >= Math.max(0, ...totals)) return talks;
  }
  return talks;
}

export function talkPath(talkId) {
  return `/talks/${encodeURIComponent(talkId)}`;
}
