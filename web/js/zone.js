// The time zone the pages show and take times in: the venue's (config.json's timeZone, the
// template's EventTimeZone) when the deployment names one, else each device's own. An organiser
// in London preparing a Berlin conference reads and types Berlin hours, and a room PC left on
// UTC says the hour printed on the programme.

let venue; // the venue's zone when this browser knows it, else undefined (the device's)
let unknown = null; // a zone the config names that this browser's Intl refuses
let decided = false;
let taken = null; // the zone name the page took (null: none, the device's)
let stale = false; // a later config read named another zone than the page took

// Takes the zone config.json names (null or empty: none), once for the page's life: its first
// read decides, or `useDeviceZone` when that read fails or is late. A zone taken later would
// change the zone under times already drawn (a programme in two zones at once) and under an
// open form (its inputs filled in one zone and read back in another: a Save that touched
// nothing moved a talk by hours). A reload takes the zone again. A name this browser does not
// know (an older browser's time zone data) leaves the device's zone, and is kept to be said.
export function useTimeZone(name) {
  if (decided) {
    // Said, not taken: a page nobody reloads (a room screen) reloads itself at a quiet moment.
    if ((name || null) !== taken) stale = true;
    return;
  }
  decided = true;
  taken = name || null;
  if (!name) return;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    venue = name;
  } catch {
    unknown = String(name); // a RangeError: no page breaks on it
  }
}

// The device's zone for the page's life when no zone is taken yet: its config could not be
// read in time. (Not a config's word: it makes no zone stale.)
export function useDeviceZone() {
  decided = true;
}
// Whether the page's zone is taken.
export const zoneDecided = () => decided;
// Whether a config read since named another zone than the page's (a reload would take it).
export const zoneStale = () => stale;

// The venue's zone, or undefined for the device's (as Intl's `timeZone` option takes it).
export const venueZone = () => venue;
// The configured zone this browser does not know, or null.
export const unknownZone = () => unknown;
// The IANA name of the zone times are in ("Europe/Berlin").
export const zoneName = () => venue || Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

// One formatter per zone for wall times: making one costs far more than using it, and a
// programme of 300 talks reads 600 days.
const walls = new Map();
function wallFormat(zone) {
  if (!walls.has(zone)) {
    walls.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    }));
  }
  return walls.get(zone);
}

// A wall time (a date and a time of day, no zone) as the milliseconds UTC would put it at.
export function wallTime(year, month, day, hour = 0, minute = 0, second = 0, ms = 0) {
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day); // (years before 100 stay themselves)
  at.setUTCHours(hour, minute, second, ms);
  return at.getTime();
}

// The wall time an instant (ms) reads as in `zone` (undefined: the device's, read as the device
// is now: a device moved to another zone reads the new one), as wallTime gives it.
export function wallOf(instant, zone = venue) {
  const ms = ((instant % 1000) + 1000) % 1000;
  if (!zone) {
    const at = new Date(instant);
    return wallTime(at.getFullYear(), at.getMonth() + 1, at.getDate(), at.getHours(), at.getMinutes(), at.getSeconds(), ms);
  }
  const parts = Object.fromEntries(wallFormat(zone).formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const [year, month, day, hour, minute, second] = ["year", "month", "day", "hour", "minute", "second"].map((k) => Number(parts[k]));
  return wallTime(year, month, day, hour, minute, second, ms);
}

// The instant a wall time (as wallTime gives it) is in `zone`: the guess that the zone were UTC,
// corrected by the zone's offset, and checked by reading it back. Either side of a clock change
// (offsets read a day before and after) the wall time may read back once (most days), twice
// (the hour the clocks go back: the first, earlier one is taken) or never (the hour they skip
// forward: null).
export function instantOf(wall, zone = venue) {
  const found = instantsOf(wall, zone);
  return found.length ? found[0] : null;
}

// Every instant a wall time is in `zone`, earliest first: one (most days), two (the hour the
// clocks go back: the organisers are asked which) or none (the hour they skip).
export function instantsOf(wall, zone = venue) {
  const DAY = 86_400_000;
  const offsets = new Set([wall - DAY, wall + DAY].map((guess) => wallOf(guess, zone) - guess));
  const found = [...offsets].map((offset) => wall - offset).filter((instant) => wallOf(instant, zone) === wall);
  return found.sort((a, b) => a - b);
}

// "2026-12-05T10:00" (datetime-local's form, seconds and below left out) of a wall time.
export function wallText(wall) {
  return new Date(wall).toISOString().slice(0, 16);
}
