// Ratings kept on their way (voter.js) are sent from whatever page of the app is open, when it
// loads and when the network returns: an attendee who tapped a star offline and went on to the
// programme, or closed the tab, still has it counted. Each goes with its Idempotency-Key and its
// voter token, so a send that also happens elsewhere (another tab, the talk's page) counts once.
// The talk page sends its own talk's (it says how it goes): it claims the talk while open.
import { request, ApiError, gatewayBusy, keysUpdating, appConfig, credentialRefused, forgottenVoter } from "./api.js";
import { keptTalks, sendingRating, keepSending, safeToResend, rememberRating, noteRefused, voterToken, forgetToken, passOfVoter, TooManyVoters } from "./voter.js";

const claimed = new Set();
const inFlight = new Set();

// The talk page sends this talk's kept rating itself until `release`.
export function claim(talkId) {
  claimed.add(talkId);
  return () => claimed.delete(talkId);
}

// Another run of the rating's Idempotency-Key (another tab, a page before its reload) still holds it.
export const inProgress = (error) => error instanceof ApiError && error.status === 409 && String(error.problem.type || "").endsWith("request-in-progress");

// The one rule of which answers to a rating (or to its pass) mean "keep it and send it again
// later, under its key": no answer, any 5xx (a busy or failing service, a gateway answering for
// it: the key makes a send that did count count once), the gateway's throttle, the service
// updating its keys (its pass kept), or another run holding the key. Every other answer is the
// service's word on the rating: counted or refused.
export const keepForLater = (error) => error instanceof ApiError && (error.status === 0 || error.status >= 500 || gatewayBusy(error) || keysUpdating(error) || inProgress(error));

// A send of a rating answered so stores nothing: a 429 (the gateway's throttle, the service
// updating its keys or over a limit) or its pass refused. Every other answer, or none, may
// have stored it (a 5xx, a gateway answering for the service, an answer lost).
export const nothingStored = (error) => error instanceof ApiError && (error.status === 429 || credentialRefused(error));

// Whether a send of a kept rating, under its pass, may have been stored (`stored`, noted before
// each send and taken back when its answer stored nothing). One kept before that was noted,
// once sent, may have. A pass refused for one that may have is not swapped for a new pass:
// both sends counted would be two attendees.
export const mayHaveCounted = (held) => held.stored ?? Boolean(held.sentAt);

// One send of a kept rating under its pass (`send`): noted as maybe stored while on its way
// (`note(true)`: a page closed or reloaded meanwhile knows no more), and taken back
// (`note(before)`, what was noted before it) when its answer stored nothing.
export async function sendNoted(send, before, note) {
  note(true);
  try {
    return await send();
  } catch (error) {
    if (nothingStored(error)) note(before);
    throw error;
  }
}

// The pass a rating held under `token` goes with now: the kept pass of the same voter when it
// was renewed since (by this page or another; the old one may have expired meanwhile), else
// `token` itself (undefined: none asked for yet; null: none).
export const passNow = (token) => passOfVoter(token) ?? token;

// After `token` was refused (expired, say), the kept pass of the same voter renewed meanwhile,
// to send again with: the same voter, so no new voter, and the pass not forgotten. Never for a
// forgotten voter (every pass of theirs is refused), never another voter's pass. Else null.
export function renewedSince(token, error) {
  if (!token || !credentialRefused(error) || forgottenVoter(error)) return null;
  const pass = passOfVoter(token);
  return pass !== token ? pass : null;
}

// Tried again this often while ratings are kept: one that waited for a pass (a network over
// its passes for the minute, a busy service) goes without the page being reloaded.
export const AGAIN_MS = 30_000;
// A Retry-After is honoured up to five minutes: a longer one (a gateway's maintenance page, a
// misread header) would leave a tapped rating waiting past its talk's close; tried then, it asks
// the service again, no more often than that.
const LONGEST_WAIT_MS = 5 * 60_000;

// The kept rating of `key` waits as the service asked (`retryAfter` s, at most five minutes),
// else to the next try: noted with it (`retryAt`) and why (`why`: "keys" for the service
// updating its keys), so that no page of the app sends it before, and its talk's page, opened
// meanwhile, says why it waits. The wait, in ms.
export function putOff(talkId, key, retryAfter, why = null) {
  if (!retryAfter) return AGAIN_MS;
  const wait = Math.min(retryAfter * 1000, LONGEST_WAIT_MS);
  const held = sendingRating(talkId);
  if (held?.key === key) keepSending(talkId, { ...held, retryAt: Date.now() + wait, why });
  return wait;
}

// How long a kept rating still waits, in ms (0: it may be sent). One noted to wait longer than
// a Retry-After is honoured (a phone's clock set back since) waits no more.
export function waitLeft(held, now = Date.now()) {
  const left = (held.retryAt ?? 0) - now;
  return left > 0 && left <= LONGEST_WAIT_MS ? left : 0;
}

async function sendOne(talkId) {
  const held = sendingRating(talkId);
  // One that cannot be sent again safely is left for its talk's page to say.
  if (!held || !safeToResend(held)) return;
  let token = passNow(held.token);
  let stored = mayHaveCounted(held);
  try {
    if (token === undefined) {
      // Never asked for: the pass first. One that needs the event code, or the service refusing
      // passes for now, leaves it kept (its talk's page asks for the code).
      try {
        token = await voterToken();
      } catch (error) {
        if (error instanceof TooManyVoters || keepForLater(error)) putOff(talkId, held.key, error.retryAfter);
        if (!(error instanceof ApiError && (error.status === 404 || error.status === 405))) return;
        if ((await appConfig()).votingPolicy === "attendee") return; // no rating without a pass
        token = null; // the service hands out no passes: open voting, rated without one
      }
      keepSending(talkId, { ...held, token, sentAt: Date.now() });
    }
    const note = (now) => {
      stored = now;
      const kept = sendingRating(talkId);
      if (kept?.key === held.key) keepSending(talkId, { ...kept, token, stored });
    };
    const post = () => {
      token = passNow(token);
      return sendNoted(() => request("POST", "/ratings", {
        body: { talkId, value: held.value },
        headers: { "Idempotency-Key": held.key, ...(token ? { "Voter-Token": token } : {}) },
      }), stored, note);
    };
    let answer;
    try {
      answer = await post();
    } catch (error) {
      if (renewedSince(token, error)) {
        // Refused, and renewed meanwhile (by another tab, as it went): sent again with the
        // renewed pass (post takes it), the same voter, under its key: whether or not the
        // first send was stored, it counts once, and the pass is kept.
        answer = await post();
      } else {
        // A pass the service no longer takes (its signing key replaced), for a rating no send of
        // which may have been stored (never sent, or every send answered 429 or refused, as
        // while the service read its keys again): one new pass, one more try, as the talk page
        // does, with its key. One that may have counted would count again under a new pass, as
        // another attendee's, so that one is said unconfirmed (below).
        if (!(token && credentialRefused(error) && !stored)) throw error;
        forgetToken(token);
        try {
          token = await voterToken();
        } catch (passError) {
          // No new pass now (the event code to give again, a network over its passes): kept,
          // never sent, for its talk's page or the next try.
          keepSending(talkId, { value: held.value, key: held.key });
          putOff(talkId, held.key, passError?.retryAfter);
          return;
        }
        keepSending(talkId, { ...held, token, sentAt: Date.now(), stored });
        answer = await post();
      }
    }
    // Said as the attendee's rating only while it is still the one kept: a newer tap (sent by
    // its talk's page meanwhile) stands.
    if (sendingRating(talkId)?.key === held.key) {
      rememberRating(talkId, answer.body?.rating?.value ?? held.value);
      keepSending(talkId, null);
    }
  } catch (error) {
    if (keepForLater(error)) {
      // Sent again once the wait the service asked for ends (the service updating its keys
      // asks for seconds), not at the next 30 s try only.
      wake(putOff(talkId, held.key, error.retryAfter, keysUpdating(error) ? "keys" : null));
      return;
    }
    // Refused (closed, gone, over a limit, a pass refused): dropped, then noted, said on its
    // talk's page (one open in another tab hears the note).
    const passRefused = token && credentialRefused(error);
    if (passRefused) forgetToken(token);
    if (sendingRating(talkId)?.key === held.key) keepSending(talkId, null);
    const { status = 0, problem = {}, retryAfter = null } = error instanceof ApiError ? error : {};
    // A pass refused now for a rating a send of which under it may have been stored (its
    // answer lost): that send may have counted, so the page says it could not be confirmed
    // rather than refused.
    noteRefused(talkId, { value: held.value, key: held.key, status, problem, retryAfter, unconfirmed: Boolean(passRefused && stored) });
  }
}

// One tab sends a talk's kept rating at a time: the tab sending it holds this lock of the origin
// (Web Locks) until its answer, and every other page leaves it to that one. A tab closed mid-send
// lets it go, and a talk page that waits for its turn (`sendAlone`) sends the rating still kept.
const sendingLock = (talkId) => `talkrate-sending:${talkId}`;

// Holds the talk's sending lock from now until the function returned is called: a tap's send,
// whichever tab sends the kept rating it replaces. Without Web Locks, nothing.
export function holdSending(talkId) {
  if (!navigator.locks) return () => {};
  let done;
  const over = new Promise((resolve) => { done = resolve; });
  navigator.locks.request(sendingLock(talkId), () => over).catch(() => {});
  return done;
}

// Runs `send` holding the talk's sending lock, if no tab holds it (`wait`: once it has its
// turn, however long); resolves to `send`'s result, or to `busy` when another tab holds it.
// Without Web Locks, `send` at once.
export const sendAlone = (talkId, send, { wait = false, busy = undefined } = {}) => (navigator.locks
  ? navigator.locks.request(sendingLock(talkId), wait ? {} : { ifAvailable: true }, (lock) => (lock ? send() : busy))
  : Promise.resolve().then(send));

// Every kept rating not claimed by an open talk page nor being sent by another tab, each once at
// a time, none before the time the service asked it to wait.
export function sendKept() {
  if (!navigator.onLine) return;
  for (const talkId of keptTalks()) {
    if (claimed.has(talkId) || inFlight.has(talkId)) continue;
    const held = sendingRating(talkId);
    const left = held ? waitLeft(held) : 0;
    if (left) {
      wake(left);
      continue;
    }
    inFlight.add(talkId);
    sendAlone(talkId, () => sendOne(talkId)).finally(() => inFlight.delete(talkId));
  }
}

// A rating that waits is sent when its wait ends (seen at a try before, at most 30 s before, or
// set by its own try).
let wakeAt = Infinity;
let wakeTimer = null;
function wake(ms) {
  const at = Date.now() + ms;
  if (at >= wakeAt) return;
  clearTimeout(wakeTimer);
  wakeAt = at;
  wakeTimer = setTimeout(() => {
    wakeAt = Infinity;
    sendKept();
  }, ms);
}

export function watchKept() {
  sendKept();
  addEventListener("online", sendKept);
  setInterval(() => { if (keptTalks().length) sendKept(); }, AGAIN_MS);
}
