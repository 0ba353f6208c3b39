// /app/talks/<talkId>: rate the talk (1 to 5, changeable), and its live histogram.
import { h, fill, setText, formatTime, formatDay, talkHref } from "../dom.js";
import { get, request, appConfig, talkPath, ApiError } from "../api.js";
import { watch, talkChannel } from "../live.js";
import { histogramView } from "../histogram.js";
import { voterToken, forgetToken, rememberCode, CodeRequired, ownRating, rememberRating } from "../voter.js";
import { liveBadge, errorText } from "./common.js";

// Why a rating was not counted, in the attendee's words.
function refusal(error) {
  if (!(error instanceof ApiError)) return "Something went wrong: your rating was not counted.";
  switch (error.status) {
    case 409:
      return "Rating is closed for this talk: it takes ratings from its start until shortly after its end.";
    case 429: {
      const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : " Try again in a moment.";
      return `Too many ratings from here just now: this one was not counted.${wait}`;
    }
    case 404:
      return "This talk is no longer in the programme.";
    case 401:
    case 403:
      return "Your attendee pass was refused: reload the page to get a new one.";
    default:
      return `${errorText(error)} Your rating was not counted.`;
  }
}

function windowHint(talk) {
  const now = Date.now();
  const starts = Date.parse(talk.startsAt);
  const ends = Date.parse(talk.endsAt);
  if (Number.isFinite(starts) && now < starts) return `Rating opens when the talk starts, ${formatDay(talk.startsAt)} ${formatTime(talk.startsAt)}.`;
  if (Number.isFinite(ends) && now > ends) return "This talk has ended; rating closes shortly after its end.";
  return "";
}

export function talkPage(main, talkId) {
  document.title = "Talk · talkrate";
  let policy = "open";
  let tokens = true; // false once the service said it hands out no voter tokens
  let pending = null; // the rating waiting for the event code
  let busy = false;
  const histogram = histogramView();
  const badge = liveBadge();
  const buttons = [1, 2, 3, 4, 5].map((value) =>
    h("button", {
      type: "button", class: "star", "aria-label": `Rate ${value} out of 5`, "aria-pressed": "false",
      onclick: () => rate(value),
    }, h("span", { "aria-hidden": "true" }, "★"), h("span", { class: "star-value", "aria-hidden": "true" }, String(value))));
  const own = h("p", { class: "own", "data-testid": "own-rating", "aria-live": "polite" }, "Tap a star to rate this talk.");
  const message = h("p", { class: "message", role: "alert", "data-testid": "message" });
  const hint = h("p", { class: "muted hint" });
  const codeInput = h("input", { id: "event-code", autocomplete: "off", required: true, maxlength: 100 });
  const codeForm = h("form", { class: "code-form", hidden: true, onsubmit: submitCode },
    h("label", { for: "event-code" }, "Event code"),
    h("p", { class: "muted", id: "event-code-help" }, "This event asks for its code (on your badge or the opening slide) before you rate."),
    h("span", { class: "row" }, codeInput, h("button", { type: "submit" }, "Continue")));
  codeInput.setAttribute("aria-describedby", "event-code-help");
  const title = h("h1", {}, "Loading…");
  const meta = h("p", { class: "meta" });
  const screenLink = h("a", { href: `${talkHref(talkId)}/screen`, class: "screen-link" }, "Open the room screen");
  fill(main,
    h("article", { class: "talk" },
      title, meta,
      h("section", { class: "rate", "aria-labelledby": "rate-heading" },
        h("h2", { id: "rate-heading" }, "Your rating"),
        h("div", { class: "stars-row", role: "group", "aria-labelledby": "rate-heading" }, buttons),
        own, message, hint, codeForm),
      h("section", { class: "results", "aria-labelledby": "results-heading" },
        h("h2", { id: "results-heading" }, "Ratings"),
        histogram.summary, histogram.list, badge.node),
      h("p", {}, screenLink)));

  function showOwn(value) {
    buttons.forEach((button, i) => button.setAttribute("aria-pressed", String(i + 1 === value)));
    setText(own, value ? `You rated ${value} out of 5. Tap another star to change it.` : "Tap a star to rate this talk.");
  }
  showOwn(ownRating(talkId));

  async function post(value, token) {
    return request("POST", "/ratings", {
      body: { talkId, value },
      headers: token ? { "Voter-Token": token } : {},
    });
  }

  async function tokenFor() {
    if (!tokens && policy !== "attendee") return null;
    try {
      return await voterToken();
    } catch (error) {
      if (policy === "attendee") throw error;
      tokens = false; // open voting: rate without one
      return null;
    }
  }

  async function rate(value) {
    if (busy) return;
    busy = true;
    setText(message, "");
    codeForm.hidden = true;
    buttons.forEach((b, i) => b.classList.toggle("sending", i + 1 === value));
    try {
      let token = await tokenFor();
      try {
        await post(value, token);
      } catch (error) {
        // An expired or revoked pass: one new pass, one more try.
        if (!(token && error instanceof ApiError && (error.status === 401 || error.status === 403))) throw error;
        forgetToken();
        token = await tokenFor();
        await post(value, token);
      }
      rememberRating(talkId, value);
      showOwn(value);
      live.refresh();
    } catch (error) {
      if (error instanceof CodeRequired) {
        pending = value;
        codeForm.hidden = false;
        setText(message, error.message);
        codeInput.focus();
      } else {
        setText(message, refusal(error));
      }
    } finally {
      busy = false;
      buttons.forEach((b) => b.classList.remove("sending"));
    }
  }

  function submitCode(event) {
    event.preventDefault();
    rememberCode(codeInput.value.trim());
    codeInput.value = "";
    if (pending) rate(pending);
  }

  const refresh = async () => {
    const body = await get(`/ratings?talkId=${encodeURIComponent(talkId)}`);
    histogram.update({ ratings: body.ratings, avg: body.stats ? body.stats.avg : undefined });
  };
  let live = { refresh: async () => {}, stop() {} };
  let stopped = false;

  (async () => {
    try {
      const [config, talk] = await Promise.all([appConfig(), get(talkPath(talkId))]);
      policy = config.votingPolicy || "open";
      if (stopped) return;
      document.title = `${talk.title} · talkrate`;
      setText(title, talk.title);
      const when = talk.startsAt ? `${formatDay(talk.startsAt)} ${formatTime(talk.startsAt)}${talk.endsAt ? `–${formatTime(talk.endsAt)}` : ""}` : null;
      setText(meta, [(talk.speakers || []).join(", "), talk.track, talk.room, when].filter(Boolean).join(" · "));
      setText(hint, windowHint(talk));
      if (talk.summary) histogram.update(talk.summary);
      const channel = await talkChannel(talk);
      if (stopped) return;
      live = watch({
        channel,
        refresh,
        onEvent: (event) => {
          if (event && event.type === "talk" && event.talkId === talkId) histogram.update(event);
        },
        onStatus: badge.set,
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        document.title = "Talk not found · talkrate";
        fill(main, h("h1", {}, "This talk is not in the programme"),
          h("p", {}, h("a", { href: "/app/" }, "See the programme")));
      } else {
        setText(message, errorText(error));
      }
    }
  })();

  return () => {
    stopped = true;
    live.stop();
  };
}
