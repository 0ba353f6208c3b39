// When a talk takes ratings (from its start until ratingClosesAt: its end plus the service's
// grace, unless the organisers paused them: ratingsPaused), by the service's clock. The server
// decides (409); this spares attendees a vain tap.
import { formatDay, formatTime, formatZone, formatZoned, dayOf } from "./dom.js";

export const when = (iso) => `${formatDay(iso)} ${formatTime(iso)}`;
// As attendees read it: with the zone it is in ("Sat 5 Dec 00:30 CET").
export const zoned = (iso) => `${when(iso)} ${formatZone(iso)}`;

export const PAUSED = "Ratings are paused by the organisers: this talk takes no rating until they resume them.";

// Whether the talk no longer takes ratings at `now` (its end plus the service's grace has passed).
export function ratingClosed(talk, now) {
  const closes = Date.parse(talk.ratingClosesAt);
  return Number.isFinite(closes) && now > closes;
}

// Whether the talk takes ratings at `now`, and what to say about it: `text` for everyone,
// `unrated` for an attendee who has not rated while it is closed, `caption` for the room screen:
// its words, then the phrases (a day, a time with its zone) it keeps each on one line where one
// holds it ("01:00 PM" broke before its "PM" on a projector).
export function ratingWindow(talk, now) {
  const starts = Date.parse(talk.startsAt);
  const ends = Date.parse(talk.endsAt);
  const closes = Date.parse(talk.ratingClosesAt);
  // Paused by the organisers (a closed window is the lasting answer: resuming would not open it).
  if (talk.ratingsPaused && !ratingClosed(talk, now)) {
    return { open: false, unrated: "Rating is paused.", caption: ["Rating paused", "by the organisers"], text: PAUSED };
  }
  if (Number.isFinite(starts) && now < starts) {
    // A screen put up the day before says the day: a time alone reads as today's.
    const today = dayOf(starts) === dayOf(now); // (the venue's day when it has a zone)
    const time = formatZoned(talk.startsAt);
    const opens = today ? [time] : [formatDay(talk.startsAt), time];
    return { open: false, unrated: "Not open for rating yet.", caption: ["Rating opens", ...opens], text: `Rating opens when the talk starts, ${zoned(talk.startsAt)}.` };
  }
  if (ratingClosed(talk, now)) {
    return { open: false, unrated: "You did not rate this talk.", caption: ["Rating closed"], text: `Rating closed ${zoned(talk.ratingClosesAt)}.` };
  }
  if (Number.isFinite(ends) && now > ends) {
    return { open: true, caption: ["Scan to rate"], text: Number.isFinite(closes) ? `This talk has ended; rating stays open until ${zoned(talk.ratingClosesAt)}.` : "This talk has ended." };
  }
  return { open: true, caption: ["Scan to rate"], text: "" };
}

// A timer for the talks' next edge after `now` (a start, an end, a rating's close), so what
// follows the window changes on time, not at the next 30 s check. Its id, or null.
export function atNextEdge(talks, now, check) {
  const ahead = talks.flatMap((talk) => [talk.startsAt, talk.endsAt, talk.ratingClosesAt])
    .map((iso) => Date.parse(iso) + 1 - now).filter((ms) => ms > 0);
  return ahead.length ? setTimeout(check, Math.min(...ahead, 2 ** 31 - 1)) : null;
}
