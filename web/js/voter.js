// The attendee's voter token (POST /voters), kept in localStorage and renewed (the same voter, a
// new expiry) once the service's renewAfter has passed, before it expires; the
// attendee's own ratings, so a reload shows what they chose, and the ratings on their way.
import { request, ApiError, gatewayBusy, idempotencyKey, serviceNow } from "./api.js";

const TOKEN_KEY = "talkrate.voter";
const CODE_KEY = "talkrate.eventCode";
const RATED_KEY = "talkrate.rated";
const SENDING_KEY = "talkrate.sending";
// The Idempotency-Key of the request for a new pass whose answer has not come yet ({key, at}):
// asked again (a retry of the rating, a reload, another tab), the pass goes with it, and the
// service gives the same pass back, one voter, where a lost answer made a second one. Taken
// once a pass comes; one older than the service keeps it (an hour) is made anew.
const PASS_KEY = "talkrate.passKey";
const PASS_KEY_MS = 50 * 60_000;
// A send's time: a pass is renewed long before (a quarter of its life left), so this only keeps
// one that failed to renew (offline) from being sent just as it expires.
const EXPIRY_MARGIN_MS = 5_000;

// The server asks for the event code (403 on POST /voters).
export class CodeRequired extends Error {
  constructor(wrong) {
    super(wrong ? "That event code is not right." : "This event asks for its code.");
    this.wrong = wrong;
  }
}

// Too many new attendee passes from this network address in a minute (429 on POST /voters): a
// limit on the address, not on the attendee's ratings. retryAfter: seconds, or null.
export class TooManyVoters extends Error {
  constructor(retryAfter) {
    super("Too many new attendee passes from this network just now.");
    this.retryAfter = retryAfter;
  }
}

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or full storage: the page still works, it forgets on reload.
  }
}

// The kept pass ({voterToken, expiresAt, renewAfter, before}) while it is valid, else null.
function validPass() {
  const stored = read(TOKEN_KEY);
  if (!stored || typeof stored.voterToken !== "string") return null;
  const expires = Date.parse(stored.expiresAt);
  if (Number.isFinite(expires) && expires - EXPIRY_MARGIN_MS < serviceNow()) return null;
  return stored;
}

export const storedToken = () => validPass()?.voterToken ?? null;

// Past its renewAfter (one kept before the service said when: at once).
function renewDue(pass) {
  const after = Date.parse(pass.renewAfter);
  return !Number.isFinite(after) || after <= serviceNow();
}

const voterOf = (token) => String(token).split(".")[1];

// The kept pass, valid, when it is of the same voter as `token` (renewed since, in this tab or
// another): a rating held under `token` goes with it, the same voter's, counted once. A pass of
// another voter never: that would move the rating from one voter to another. Else null.
export function passOfVoter(token) {
  const pass = validPass()?.voterToken;
  return token && pass && voterOf(pass) === voterOf(token) ? pass : null;
}

// Whether a rating of this talk under `token` counts beside an earlier one of this device's,
// made under a pass that expired or was refused (so not renewed): the talks rated before this
// pass was new are kept with it (`before`).
export function countsBeside(talkId, token) {
  const stored = read(TOKEN_KEY);
  return Boolean(token && stored?.voterToken === token && Array.isArray(stored.before) && stored.before.includes(talkId));
}

// Forget the kept pass: `token`, once the service refused it (a pass kept since, of a new voter
// the service gave for it, stays); any kept pass without `token`.
export function forgetToken(token = null) {
  if (token && read(TOKEN_KEY)?.voterToken !== token) return;
  write(TOKEN_KEY, null);
}

// A token a day past its expiry is of no use to anyone: it goes, and with it the ratings this
// device remembers making under it, so the next person on a shared phone sees neither. (A day
// late: a phone whose clock runs ahead must not forget a token still in use, and its ratings,
// which a new token would then count a second time.)
const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;

export function forgetExpired() {
  const stored = read(TOKEN_KEY);
  if (!stored) return;
  const expires = Date.parse(stored.expiresAt);
  if (Number.isFinite(expires) && expires + FORGET_AFTER_MS > serviceNow()) return;
  write(TOKEN_KEY, null);
  write(RATED_KEY, null);
  // A rating still kept to send under that token goes too: the service refuses the token.
  const sending = read(SENDING_KEY) || {};
  for (const [talkId, held] of Object.entries(sending)) {
    if (held && held.token === stored.voterToken) delete sending[talkId];
  }
  write(SENDING_KEY, Object.keys(sending).length ? sending : null);
}

export function rememberCode(code) {
  write(CODE_KEY, code);
}

// A valid token: the stored one, else a new one from POST /voters (with the event code when
// one was given). Throws CodeRequired when the server wants a (right) code, TooManyVoters when
// this address got too many passes this minute.
//
// One pass per browser: asked for once at a time, in this tab (callers share the request under
// way) and across tabs (a lock of the origin, where the browser has them), the store read again
// once the turn comes. Two passes asked for side by side (the outbox and a talk's page, two tabs
// back online together) made one attendee two, the same rating counted under each.
// A tab that waited for its turn may not see the other's pass at once (tabs' views of
// localStorage catch up with each other a moment later): while it still sees the pass it saw
// before its turn (none, or one due for renewal), it waits for the other's write, up to a second,
// before asking on its own. Else a due pass the service set aside was presented twice, making
// two new voters of one attendee, each tab's held rating counted under both. A tab that did not
// wait asks at once.
const PASS_LOCK = "talkrate-voter-pass";
const CATCH_UP_MS = 1000;
let asking = null;

//
// A valid pass past its renewAfter is renewed first (POST /voters with it: the same voter, so a
// changed mind still replaces the earlier rating); while it cannot be (offline, a busy service)
// it is used as it is. Only one the service cannot renew (expired, its key gone, a forgotten
// voter's) makes a new voter: the service answers that renewal with a new voter's pass.
export function voterToken() {
  const stored = validPass();
  if (stored && !renewDue(stored)) return Promise.resolve(stored.voterToken);
  if (!asking) {
    const seen = stored ? stored.voterToken : null;
    const ask = () => {
      const pass = validPass();
      if (pass && !renewDue(pass)) return pass.voterToken;
      return pass ? renewed(pass) : newToken();
    };
    const afterTurn = async () => {
      await storageCaughtUp(seen);
      return ask();
    };
    asking = (navigator.locks
      ? navigator.locks.request(PASS_LOCK, { ifAvailable: true }, (lock) => (lock ? ask() : navigator.locks.request(PASS_LOCK, afterTurn)))
      : ask()
    ).finally(() => { asking = null; });
  }
  return asking;
}

// Resolves once the kept pass is another than `seen` (the one this tab saw before its turn), or
// after CATCH_UP_MS.
function storageCaughtUp(seen) {
  if (storedToken() !== seen) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      removeEventListener("storage", seen);
      resolve();
    };
    const seen = (event) => { if (event.key === TOKEN_KEY) done(); };
    const timer = setTimeout(done, CATCH_UP_MS);
    addEventListener("storage", seen);
  });
}

// The kept pass renewed by the service, or kept as it is while it cannot be renewed now. A pass
// the service cannot renew (expired by its clock, its key gone, a forgotten voter's) it sets
// aside, answering a new voter's pass (`renewed: false`; the kept event code goes along, as for
// any new pass): kept as one, its earlier talks noted to count beside. An answer of another
// voter that does not say so (a service that does not renew) is not taken at its word: that
// pass would count the attendee twice.
async function renewed(pass) {
  const code = read(CODE_KEY);
  try {
    const headers = { "Voter-Token": pass.voterToken, "Idempotency-Key": passKey() };
    const { body } = await request("POST", "/voters", { body: code ? { code } : {}, headers });
    write(PASS_KEY, null);
    if (body.renewed === false && voterOf(body.voterToken) !== voterOf(pass.voterToken)) return keptNew(body);
    if (voterOf(body.voterToken) !== voterOf(pass.voterToken)) return pass.voterToken;
    write(TOKEN_KEY, { ...pass, voterToken: body.voterToken, expiresAt: body.expiresAt, renewAfter: body.renewAfter });
    return body.voterToken;
  } catch (error) {
    // A service before passes were set aside: 401 for one it cannot renew. 403: set aside, and
    // the event code asked for (none kept, or a changed one).
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return newToken();
    return pass.voterToken;
  }
}

// At a page's load: the kept pass renewed if it is due, in the background.
export function renewIfDue() {
  const pass = validPass();
  if (pass && renewDue(pass)) voterToken().catch(() => {});
}

// The key a request for a new pass goes with: the one kept for a request unanswered, else a new
// one, kept until a pass comes.
function passKey() {
  const kept = read(PASS_KEY);
  if (kept && typeof kept.key === "string" && Date.now() - kept.at < PASS_KEY_MS) return kept.key;
  const key = idempotencyKey();
  write(PASS_KEY, { key, at: Date.now() });
  return key;
}

async function newToken() {
  const code = read(CODE_KEY);
  try {
    const headers = { "Idempotency-Key": passKey() };
    const { body } = await request("POST", "/voters", { body: code ? { code } : {}, headers });
    write(PASS_KEY, null);
    return keptNew(body);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      write(CODE_KEY, null);
      throw new CodeRequired(Boolean(code));
    }
    if (error instanceof ApiError && error.status === 429 && !gatewayBusy(error)) throw new TooManyVoters(error.retryAfter);
    throw error;
  }
}

// A new voter's pass (POST /voters' 201), kept with the talks this device rated under an earlier
// pass: rated again, they count beside.
function keptNew(body) {
  const before = Object.keys(read(RATED_KEY) || {});
  write(TOKEN_KEY, { voterToken: body.voterToken, expiresAt: body.expiresAt, renewAfter: body.renewAfter, before });
  return body.voterToken;
}

export function ownRating(talkId) {
  const rated = read(RATED_KEY) || {};
  const value = rated[talkId];
  return Number.isInteger(value) && value >= 1 && value <= 5 ? value : null;
}

// One talk's entry of a map kept under `key` (null removes it).
function put(key, talkId, value) {
  const all = read(key) || {};
  if (value === null) delete all[talkId];
  else all[talkId] = value;
  write(key, all);
}

export const rememberRating = (talkId, value) => put(RATED_KEY, talkId, value);

// The rating of a talk on its way ({value, key, token, sentAt}: its Idempotency-Key, the voter
// token it goes with once known, null for none, and when it was first sent, in ms), kept before
// it is sent, so a reload or the network's return sends it again as it was: the service counts
// it once.
export function sendingRating(talkId) {
  const held = (read(SENDING_KEY) || {})[talkId];
  return held && Number.isInteger(held.value) && typeof held.key === "string" ? held : null;
}

// The service knows a key for an hour (KEY_TTL_SECONDS); 50 minutes leaves a margin for the time
// a send takes and for a phone's clock.
const KEY_KNOWN_MS = 50 * 60_000;

// Whether a kept rating can be sent again without counting twice: one with a voter token can (the
// voter's newest rating counts once), one never sent can (no token asked for yet: none kept), one
// sent without a token only while the service still knows its key. A token-less one of no known
// age (kept before `sentAt` was, or the phone's clock set back since) is not sent again.
export function safeToResend(held, now = Date.now()) {
  if (held.token !== null) return true;
  const age = now - held.sentAt;
  return Number.isFinite(age) && age > -60_000 && age < KEY_KNOWN_MS;
}

export const keepSending = (talkId, held) => put(SENDING_KEY, talkId, held);

// The talks with a rating kept on its way.
export const keptTalks = () => Object.keys(read(SENDING_KEY) || {});

// A kept rating the service refused when another page sent it ({value, key, status, problem,
// retryAfter, unconfirmed}): said on its talk's page, once, by one open then (the storage event
// tells it) or when the attendee next opens the talk.
const REFUSED_KEY = "talkrate.refused";
export const noteRefused = (talkId, note) => put(REFUSED_KEY, talkId, note);
export function takeRefused(talkId) {
  const note = (read(REFUSED_KEY) || {})[talkId] || null;
  if (note) put(REFUSED_KEY, talkId, null);
  return note;
}
