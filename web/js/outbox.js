// Ratings kept on their way (voter.js) are sent from whatever page of the app is open, when it
// loads and when the network returns: an attendee who tapped a star offline and went on to the
// programme, or closed the tab, still has it counted. Each goes with its Idempotency-Key and its
// voter token, so a send that also happens elsewhere (another tab, the talk's page) counts once.
// The talk page sends its own talk's (it says how it goes): it claims the talk while open.
import { request, ApiError, gatewayBusy, appConfig } from "./api.js";
import { keptTalks, sendingRating, keepSending, safeToResend, rememberRating, noteRefused, voterToken, forgetToken } from "./voter.js";

const claimed = new Set();
const inFlight = new Set();

// The talk page sends this talk's kept rating itself until `release`.
export function claim(talkId) {
  claimed.add(talkId);
  return () => claimed.delete(talkId);
}

// Worth sending again later: no answer, a busy or slow service, or another run holding its key.
const later = (error) => error instanceof ApiError && (error.status === 0 || error.status >= 500 || gatewayBusy(error)
  || (error.status === 409 && String(error.problem.type || "").endsWith("request-in-progress")));

async function sendOne(talkId) {
  const held = sendingRating(talkId);
  // One that cannot be sent again safely is left for its talk's page to say.
  if (!held || !safeToResend(held)) return;
  let { token } = held;
  try {
    if (token === undefined) {
      // Never asked for: the pass first. One that needs the event code, or the service refusing
      // passes for now, leaves it kept (its talk's page asks for the code).
      try {
        token = await voterToken();
      } catch (error) {
        if (!(error instanceof ApiError && (error.status === 404 || error.status === 405))) return;
        if ((await appConfig()).votingPolicy === "attendee") return; // no rating without a pass
        token = null; // the service hands out no passes: open voting, rated without one
      }
      keepSending(talkId, { ...held, token, sentAt: Date.now() });
    }
    const answer = await request("POST", "/ratings", {
      body: { talkId, value: held.value },
      headers: { "Idempotency-Key": held.key, ...(token ? { "Voter-Token": token } : {}) },
    });
    // Said as the attendee's rating only while it is still the one kept: a newer tap (sent by
    // its talk's page meanwhile) stands.
    if (sendingRating(talkId)?.key === held.key) rememberRating(talkId, answer.body?.rating?.value ?? held.value);
  } catch (error) {
    if (later(error)) return;
    // Refused (closed, gone, over a limit, a pass refused): dropped, said on its talk's page.
    const passRefused = token && error instanceof ApiError && (error.status === 401 || error.status === 403);
    if (passRefused) forgetToken();
    const { status = 0, problem = {}, retryAfter = null } = error instanceof ApiError ? error : {};
    // A pass refused now for a rating sent under it before (its answer lost): that send may
    // have counted, so the page says it could not be confirmed rather than refused.
    noteRefused(talkId, { value: held.value, status, problem, retryAfter, unconfirmed: Boolean(passRefused && held.sentAt) });
  }
  if (sendingRating(talkId)?.key === held.key) keepSending(talkId, null);
}

// Every kept rating not claimed by an open talk page, each once at a time.
export function sendKept() {
  if (!navigator.onLine) return;
  for (const talkId of keptTalks()) {
    if (claimed.has(talkId) || inFlight.has(talkId)) continue;
    inFlight.add(talkId);
    sendOne(talkId).finally(() => inFlight.delete(talkId));
  }
}

// Tried again this often while ratings are kept: one that waited for a pass (a network over
// its passes for the minute, a busy service) goes without the page being reloaded.
const AGAIN_MS = 30_000;

export function watchKept() {
  sendKept();
  addEventListener("online", sendKept);
  setInterval(() => { if (keptTalks().length) sendKept(); }, AGAIN_MS);
}
