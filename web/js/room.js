// A room's programme, as its room screen follows it: the screen put up for a room's first talk
// of the day moves on to each next talk of that room as it starts, where it stayed on the first
// talk's closed figures all day (nobody walks to a projector's laptop between two talks).
import { roomOf } from "./clashes.js";

const startOf = (talk) => Date.parse(talk.startsAt);

// What the room screen of `talk` does by `now` (ms), opened at `since`: `next`, the room's
// talk to show now (the latest of those that started since the screen was opened, once
// `talk` has ended; a talk without an end gives way at the next one's start); else `at`, when
// to look again (the next talk's start, not before `talk`'s end), and `upcoming`, that talk.
// A talk of the room that started before the screen was opened is not followed: whoever opened
// the earlier talk's screen then chose it (a speaker showing their results after their talk).
// Rooms are compared as the clashes compare them (spaces and case set aside); a talk without a
// room or a start follows nothing.
export function roomFollow(talks, talk, now, since) {
  const room = roomOf(talk);
  const starts = startOf(talk);
  if (!room || !Number.isFinite(starts)) return { next: null, upcoming: null, at: null };
  const ends = Number.isFinite(Date.parse(talk.endsAt)) ? Date.parse(talk.endsAt) : starts;
  const later = talks
    .filter((other) => other.id !== talk.id && roomOf(other) === room && startOf(other) > starts && startOf(other) > since)
    .sort((a, b) => startOf(a) - startOf(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const started = later.filter((other) => startOf(other) <= now);
  if (started.length && now >= ends) return { next: started[started.length - 1], upcoming: null, at: null };
  const upcoming = later.find((other) => startOf(other) > now) || null;
  const at = started.length ? ends : upcoming ? Math.max(startOf(upcoming), ends) : null;
  return { next: null, upcoming: started.length ? started[started.length - 1] : upcoming, at };
}
