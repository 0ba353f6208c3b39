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
export const serviceNow = () => Date.now() + skew;

// What an answer's Date (and Age, when a cache kept it) tell of the device's clock: the ms to add
// to it, or null without a Date. The Date is whole seconds, cut down, written while the request
// was on its way, so at the answer the service's time was within [Date + Age, that + 1 s (+ 1 s
// more for Age's own whole seconds) + the round trip]. A device clock within that span is
// believed as it is: taking the Date itself set a right clock back by up to a second, the stars
// off in a talk's first second while the service took ratings. One outside is moved to the
// span's nearer end, the least that makes it possible: it keeps what the device knows below a
// second when it is a little off, and is wrong by no more than the span (as the Date alone was).
// `sentAt` and `now` are the device's clock at the request's start and at the answer.
export function skewHeard(date, age, sentAt, now) {
  const served = Date.parse(date);
  if (!Number.isFinite(served)) return null;
  const kept = Number(age);
  const cached = Number.isFinite(kept) && kept > 0;
  const earliest = served + (cached ? kept * 1000 : 0);
  const latest = earliest + (cached ? 2000 : 1000) + Math.max(0, now - sentAt);
  return Math.min(Math.max(now, earliest), latest) - now;
}

function heardClock(response, sentAt) {
  const heard = skewHeard(response.headers.get("date"), response.headers.get("age"), sentAt, Date.now());
  if (heard !== null) skew = heard;
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
  const sentAt = Date.now();
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
