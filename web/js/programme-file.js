// The programme as a spreadsheet, as cli/talkrate_cli/programme.py writes and reads it: the
// organisers' page downloads the results file `talkrate admin export` writes, and imports the
// file `talkrate admin import` reads, by the same rules and in the same words (a browser test
// hands both the same files and compares what they make of them). Read the Python module's
// docstrings for why each rule is what it is.
import { histogramSums, quotientText } from "./dom.js";
import { instantsOf } from "./zone.js";

export const COLUMNS = ["id", "title", "speakers", "track", "room", "startsAt", "endsAt", "language"];
// ratingsPaused: the organisers had paused the talk's ratings when the file was written (the
// CLI's RESULT_COLUMNS); a result, so the import reads it not.
const RESULT_COLUMNS = ["count", "avg", "1", "2", "3", "4", "5", "rank", "score", "ratingsPaused"];
const VALUES = ["1", "2", "3", "4", "5"];
const OPTIONAL = ["track", "room", "startsAt", "endsAt", "language"];
const TIMES = ["startsAt", "endsAt"];
const DELIMITERS = [",", ";", "\t"];
// The first line Excel reads (and some tools write for it) to know a file's separator: "sep=;"
const SEPARATOR_LINE = /^sep=(.)$/i;
// Where a cell gets the "'"s that keep a spreadsheet from running it as a formula, however it
// splits the line, and where an import finds them again (the CLI's GUARD and UNGUARD, which say
// why): at the cell's start, one, before a formula's start or a "'" of its own; after a ";", ",",
// tab or line break in it and any spaces, two, before a formula's start or the quotes leading to
// one (a single "'" there is the text's own, and stays).
const GUARD = /^(?<start> *)(?=[=+\-@\t\r'])|(?<=[;,\t\r\n])(?<inside> *)(?=['" ]*[=+\-@\t\r])/g;
const UNGUARD = /^( *)'(?=[=+\-@\t\r'])|(?<=[;,\t\r\n])( *)''(?=['" ]*[=+\-@\t\r])/g;
const TALK_ID = /^[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}$/;
const LONGEST = { title: 300, track: 100, room: 100, speaker: 120 };
const MOST_SPEAKERS = 20;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// U+FEFF, dropped from a talk's texts as the API drops it (the CLI's TEXTS, talk_text.DROPPED):
// a programme exported with one in a text is imported again, cleaned.
const TEXTS = ["title", "speakers", "track", "room"];
const withoutDropped = (text) => text.replace(/\ufeff/g, "");
// Unicode's explicit direction controls, refused by the API in a talk's text (see the CLI's
// DIRECTION_CONTROLS): each with its Unicode name, as a refusal names it.
const DIRECTION_CONTROLS = {
  "\u202a": "LEFT-TO-RIGHT EMBEDDING", "\u202b": "RIGHT-TO-LEFT EMBEDDING", "\u202c": "POP DIRECTIONAL FORMATTING",
  "\u202d": "LEFT-TO-RIGHT OVERRIDE", "\u202e": "RIGHT-TO-LEFT OVERRIDE", "\u2066": "LEFT-TO-RIGHT ISOLATE",
  "\u2067": "RIGHT-TO-LEFT ISOLATE", "\u2068": "FIRST STRONG ISOLATE", "\u2069": "POP DIRECTIONAL ISOLATE",
};
const DIRECTION_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
// A talk's language as the API takes it (the CLI's LANGUAGE_TAG): a BCP 47 tag of at most 35
// characters, its language subtag of 2 or 3 letters; case aside (the API keeps the registry's),
// ASCII's only: without the u flag, /i takes no other letter for one ("\u212a", the Kelvin sign,
// is no "k"), where toLowerCase() would.
const LANGUAGE_TAG = new RegExp("^(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?"
  + "(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?|x(?:-[a-z0-9]{1,8})+"
  + "|en-gb-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)|sgn-(?:be-fr|be-nl|ch-de))$", "i");
const languageRefused = (text) => (text.length <= 35 && LANGUAGE_TAG.test(text) ? null
  : `language ${repr(text)} is not a BCP 47 language tag of at most 35 characters, such as he, ar, fa, en-GB or pt-BR (the language's code, not its name)`);
const FIRST_YEAR = 1970;
const LAST_YEAR = 9000;
// Python's white space (str.strip), which is not JavaScript's (trim() takes U+FEFF, not U+001C).
const SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const EDGES = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
const strip = (text) => text.replace(EDGES, "");
const chars = (text) => [...text].length;

// A cell of the CSV: quoted when needed, and never read as a formula by a spreadsheet, whatever
// it splits the line on (a text's own leading "'" is guarded too, so an import reads "'=x" back
// as itself; "Scaling teams;=2+3" is written "Scaling teams;''=2+3"). Quoted where it holds the
// file's `delimiter` ("," or ";"), as Python's csv writer quotes.
function cell(value, delimiter = ",") {
  const text = (value === null || value === undefined ? "" : String(value)).replace(
    GUARD,
    (_, start, inside) => (start !== undefined ? `${start}'` : `${inside}''`),
  );
  return /["\n\r]/.test(text) || text.includes(delimiter) ? `"${text.replace(/"/g, '""')}"` : text;
}

// A cell's text as it was before the guard: each guard goes ("'" at the start, "''" inside); any
// other "'" stays, a single one after a separator too.
function unguarded(text) {
  return text.replace(UNGUARD, (_, first, after) => first || after || "");
}

// The speakers cell, as the CLI's import reads it: names joined by "; ", a ";" or a backslash in a
// name escaped with a backslash ("Smith\; Jr"), so each name reads back exactly.
function speakersCell(speakers) {
  return (speakers || []).map((name) => name.replace(/\\/g, "\\\\").replace(/;/g, "\\;")).join("; ");
}

function speakersFromCell(text) {
  const names = [];
  let name = "";
  for (let at = 0; at < text.length; at += 1) {
    if (text[at] === "\\" && (text[at + 1] === ";" || text[at + 1] === "\\")) {
      name += text[at + 1];
      at += 1;
    } else if (text[at] === ";") {
      names.push(name);
      name = "";
    } else {
      name += text[at];
    }
  }
  names.push(name);
  return names.map(strip).filter(Boolean);
}

// The API lists talks without their ratings while its read model does not answer: a file of
// zeros would read as results, so none is made.
export class ResultsUnavailable extends Error {
  constructor() {
    super("The results cannot be read now (the ratings store did not answer). Nothing was downloaded: try again in a minute.");
  }
}

// Two ids in the order of their UTF-8 bytes (Redis orders a leaderboard's ties by them).
function byBytes(a, b) {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

// A talk's average as the file writes it (see the CLI's `average_cell`): its histogram's exact
// average, from the whole counts, to three places, a tie rounded up; empty for a talk nobody
// rated. Not the API's avg, already rounded to four places (127/33 became 3.8485, then 3.849).
function averageCell(ratings) {
  const { count, sum } = histogramSums(ratings);
  return count ? quotientText(sum, count, 3) : "";
}

// Each rated talk's rank among these talks and its score, by the leaderboard's rule (see the
// CLI's `places` and talkrate.leaderboard.ranked): the Bayesian average of its histogram with
// the leaderboard's prior, best first; talks of the same score share a rank (1, 1, 3), the
// lower id first. Id -> [rank, score].
function places(talks, prior) {
  const scored = [];
  for (const talk of talks) {
    const { count, sum: total } = histogramSums((talk.summary && talk.summary.ratings) || {});
    if (count) scored.push([(prior.mean * prior.weight + total) / (prior.weight + count), talk.id]);
  }
  scored.sort(([s, a], [t, b]) => t - s || byBytes(a, b));
  const ranks = [];
  scored.forEach(([score], i) => ranks.push(i && scored[i - 1][0] === score ? ranks[i - 1] : i + 1));
  return new Map(scored.map(([score, id], i) => [id, [ranks[i], score]]));
}

// The file `talkrate admin export` writes too: the histogram's average to three places, a tie
// rounded up; the rank and score (four places) among the file's talks, with the leaderboard's
// `prior` (GET /leaderboard's), both empty for a talk nobody rated. `decimalComma`: cells
// separated by ";" and decimals written "4,170", as a spreadsheet whose decimal mark is ","
// (Excel in most of Europe) opens it in columns (the CLI's --decimal-comma; no `sep=` line,
// after which Excel drops the byte-order mark); the import reads it back either way.
export function resultsCsv(talks, prior, { decimalComma = false } = {}) {
  if (talks.some((talk) => !talk.summary)) throw new ResultsUnavailable();
  const ranked = places(talks, prior);
  const delimiter = decimalComma ? ";" : ",";
  const decimal = (text) => (decimalComma ? text.replace(".", ",") : text);
  const lines = [[...COLUMNS, ...RESULT_COLUMNS].join(delimiter)];
  for (const talk of talks) {
    const summary = talk.summary;
    const ratings = summary.ratings || {};
    const [rank, score] = ranked.get(talk.id) || ["", null];
    lines.push([
      talk.id, talk.title, speakersCell(talk.speakers), talk.track, talk.room, talk.startsAt, talk.endsAt, talk.language,
      summary.count, decimal(averageCell(ratings)), ...VALUES.map((v) => ratings[v] || 0), rank,
      score === null ? "" : decimal(score.toFixed(4)), talk.ratingsPaused ? "true" : "false",
    ].map((value) => cell(value, delimiter)).join(delimiter));
  }
  return `${lines.join("\r\n")}\r\n`;
}

// The id suggested for a title (`talkrate admin import` gives an id-less row the same one).
export function slug(text) {
  // A title without a Latin letter or digit (Hebrew, Chinese) gets "talk-" and a hash of it,
  // so that two such titles get two ids (they all got "talk").
  return slugWithoutHash(text) || `talk-${fnv1a(text.trim())}`;
}

// Accents dropped, not turned into dashes: "Lucía Fernández" -> "lucia-fernandez".
function slugWithoutHash(text) {
  const plain = text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  return plain.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
}

// The id an import gave a row without one before 2026-12-02 ("Über Café" -> "ber-caf").
function earlierSlug(title) {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80) || "talk";
}

// 32-bit FNV-1a of the text's UTF-8, in 8 hex digits.
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}

// The first direction control a text holds, said as the API and the CLI say it ("U+202E
// RIGHT-TO-LEFT OVERRIDE (character 9), an invisible control…"; characters counted as Python
// counts them), or null when it holds none. The organisers' form checks its fields by it too.
export function directionControl(text) {
  const found = DIRECTION_CONTROL.exec(text);
  if (!found) return null;
  const char = found[0];
  const at = [...text.slice(0, found.index)].length + 1;
  return `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")} ${DIRECTION_CONTROLS[char]} (character ${at}), `
    + "an invisible control that can reorder the text around it where it is shown";
}

// The first line or paragraph separator (U+2028, U+2029: line breaks, which the API refuses in
// a talk's texts) a text holds, said as the CLI says it (talkrate.talk_text.line_separator), or
// null when it holds none.
const LINE_SEPARATORS = { "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR" };
export function lineSeparator(text) {
  const found = /[\u2028\u2029]/.exec(text);
  if (!found) return null;
  const at = [...text.slice(0, found.index)].length + 1;
  return `U+${found[0].codePointAt(0).toString(16).toUpperCase()} ${LINE_SEPARATORS[found[0]]} (character ${at}), a line break: a talk's text is one line`;
}

// A refusal of the file, in the CLI's words ("line 4: ..."); `line` is null for the whole file.
export class ProgrammeError extends Error {
  constructor(message, line = null) {
    super(message);
    this.line = line;
  }
}

// Python's repr() of a text, as the CLI's messages quote it.
function repr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const escaped = [...text].map((c) => {
    if (c === "\\" || c === quote) return `\\${c}`;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    if (c === " " || !/[\p{C}\p{Z}]/u.test(c)) return c;
    const code = c.codePointAt(0);
    const [prefix, width] = code < 0x100 ? ["x", 2] : code < 0x10000 ? ["u", 4] : ["U", 8];
    return `\\${prefix}${code.toString(16).padStart(width, "0")}`;
  });
  return `${quote}${escaped.join("")}${quote}`;
}

// What is said of a file that is not UTF-8 text (the CLI's not_utf8).
export const notUtf8 = (name) => `${name} is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8'`;

// What is said of a programme file's text read as UTF-8 that holds a NUL (a ProgrammeError), or
// null (the CLI's unreadable_text): UTF-16 without a byte-order mark (a NUL beside each ASCII
// letter, a third of its characters or more) is not UTF-8; any other NUL is said on the first
// line holding one.
export function unreadableText(name, text) {
  if (!text.includes("\0")) return null;
  const characters = [...text];
  if (characters.filter((c) => c === "\0").length * 3 >= characters.length) return new ProgrammeError(notUtf8(name));
  const lines = text.split(/\r\n?|\n/).flatMap((line, i) => (line.includes("\0") ? [i + 1] : []));
  const more = lines.length > 1 ? `; ${lines.length - 1} more ${lines.length === 2 ? "line holds" : "lines hold"} one` : "";
  return new ProgrammeError(`line ${lines[0]}: a NUL byte (character 0${more}), which no text holds: a spreadsheet or `
    + "a binary file may have put it there; remove it, or save the file from the spreadsheet as 'CSV UTF-8'", lines[0]);
}

// The rows of a CSV as Python's csv module reads them (the excel dialect, not strict), each with
// the file's line it ends on; lines end as Python's text files read them (\r\n, \r or \n).
// Python's csv.field_size_limit(), past which the CLI reads no further.
const CELL_LIMIT = 131072;
// A cell past the limit inside its quotes: maybe a quote never closed, the rest of the file in it.
const cellTooLong = `a cell longer than ${CELL_LIMIT} characters (a double quote never closed?)`;
const quoteOpenAtEnd = "a double quote never closed: the file ends inside the cell it opens";
// The longest cell the API takes in a column, said of a cell past the limit (the CLI's LONGEST_CELL).
const LONGEST_CELL = { id: 200, title: LONGEST.title, track: LONGEST.track, room: LONGEST.room, language: 35 };
const tooLong = (name, length, most) => `${name} has ${length} characters, the most a talk's ${name} has is ${most}`;

// What is said of a cell past the limit outside quotes, the `at`th of its record (0 the first),
// under the header's `names` (the CLI's _past_limit).
function pastLimit(names, at, length) {
  const name = names[at] || null;
  if (Object.hasOwn(LONGEST_CELL, name || "")) return tooLong(name, length, LONGEST_CELL[name]);
  const column = name || `column ${at + 1}`;  // (apart: the minifier takes no template in a template)
  return `${column} has ${length} characters, the most the import reads in a cell is ${CELL_LIMIT}`;
}

// A record's `cells` are null for one holding a cell past the limit, at `line` (the line that cell
// began on): with its place `cell` and its `length` when it was outside quotes there (it ends with
// its line, whose rest Python's csv drops, reading on from the next line), else the end of what
// is read (a quote never closed takes the rest of the file).
function csvRecords(text, delimiter) {
  const lines = text.replace(/\r\n?/g, "\n").split(/(?<=\n)/);
  const records = [];
  let fields = [];
  let field = "";
  let length = 0; // the cell's characters (code points, as Python counts them)
  let state = "start";
  let lineNo = 0;
  let began = 1; // the line the cell being read began on
  let recordBegan = 1; // the line the record being read began on (a cell's line break: more)
  const save = () => {
    fields.push(field);
    field = "";
    length = 0;
  };
  const add = (c) => {
    field += c;
    length += 1;
  };
  for (const line of lines) {
    if (!line) continue;
    lineNo += 1;
    if (state === "start") recordBegan = lineNo;
    const characters = [...line];
    let cut = false; // a cell past the limit outside quotes: the rest of the line dropped
    for (let i = 0; i < characters.length; i += 1) {
      const c = characters[i];
      if (state === "start" || state === "field-start") {
        if (c !== "\n") began = lineNo;
        if (c === "\n") {
          if (state === "field-start") save();
          state = "eol";
        } else if (c === '"') state = "quoted";
        else if (c === delimiter) {
          save();
          state = "field-start";
        } else {
          add(c);
          state = "field";
        }
      } else if (state === "field") {
        if (c === "\n") {
          save();
          state = "eol";
        } else if (c === delimiter) {
          save();
          state = "field-start";
        } else add(c);
      } else if (state === "quoted") {
        if (c === '"') state = "quote-in-quoted";
        else add(c);
      } else if (state === "quote-in-quoted") {
        if (c === '"') {
          add(c);
          state = "quoted";
        } else if (c === delimiter) {
          save();
          state = "field-start";
        } else if (c === "\n") {
          save();
          state = "eol";
        } else {
          add(c);
          state = "field";
        }
      }
      if (length > CELL_LIMIT && state === "quoted") {
        records.push({ cells: null, line: began });
        return records;
      }
      if (length > CELL_LIMIT) {
        const rest = characters.slice(i + 1);
        const end = rest.findIndex((r) => r === delimiter || r === "\n");
        records.push({ cells: null, line: began, cell: fields.length, length: length + (end < 0 ? rest.length : end) });
        [fields, field, length, state, cut] = [[], "", 0, "start", true];
        break;
      }
    }
    if (cut) continue;
    // The end of a line ends the record unless a quoted cell goes on.
    if (state === "quoted") continue;
    if (state === "field-start" || state === "field" || state === "quote-in-quoted") save();
    records.push({ cells: fields, line: recordBegan });
    fields = [];
    state = "start";
  }
  // A quote never closed before the file's end: its cell holds the rest of the file (as Python's
  // csv reads it), and the record says where that quote opened.
  if (state === "quoted") {
    save();
    records.push({ cells: fields, line: recordBegan, openedAt: began });
  }
  return records;
}

const COLUMN_NAMES = new Map([...COLUMNS, ...RESULT_COLUMNS].map((name) => [name.toLowerCase(), name]));
const column = (name) => {
  const stripped = strip(name);
  return COLUMN_NAMES.get(stripped.toLowerCase()) || stripped;
};

// The cell separator of a file whose header line this is: the first that yields a title.
function delimiterOf(header) {
  return DELIMITERS.find((d) => ((csvRecords(header, d)[0] || {}).cells || []).map(column).includes("title")) || ",";
}

// A time as the API reads it: date, "T" (or "t", or a space), hours and minutes, optional
// seconds and fraction, then "Z" or an offset; null when it is none (30 February, 24:00).
const TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|([+-])(\d{2}):?([0-5]\d))?$/;

function parseTime(text) {
  const m = TIME.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v || 0));
  const days = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // of that month in a leap year
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return null;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return null;
  const offset = m[9] ? (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  if (Math.abs(offset) >= 24 * 60) return null;
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute - offset, second);
  const micros = BigInt((m[7] || "").padEnd(6, "0").slice(0, 6));
  return { zoned: Boolean(m[8]), utcYear: at.getUTCFullYear(), instant: BigInt(at.getTime()) * 1000n + micros, ms: at.getTime() };
}

// An RFC 3339 time as microseconds since 1970 (UTC when it names no zone); null for none or junk.
function instant(value) {
  const parsed = value ? parseTime(String(value)) : null;
  return parsed ? parsed.instant : null;
}

// "+01:00" of an offset in minutes.
function offsetText(minutes) {
  const whole = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(whole / 60)).padStart(2, "0")}:${String(whole % 60).padStart(2, "0")}`;
}

// A time as the API takes it, { time } (the text, or a wall time of the venue's with the zone's
// offset then after it: "2026-12-05T10:00+01:00"), or what is wrong with it, { wrong }. A time
// that names no zone is the venue's wall time when there is one (`zone`: config.json's
// timeZone), refused when the venue's clocks skip it; without a venue's zone it is refused.
function timeCell(name, text, zone = null) {
  const parsed = parseTime(text);
  if (!parsed) {
    // With the venue's zone its wall time is read as is: no offset to copy wrong.
    if (zone) return { wrong: `${name} ${repr(text)} is not a time the API reads; write it as 2026-12-02 09:00 (on the clocks of ${zone}), or 2026-12-02T08:00Z for UTC` };
    return { wrong: `${name} ${repr(text)} is not a time the API reads; write it as 2026-12-02T09:00+01:00 (or 2026-12-02T08:00Z for UTC)` };
  }
  let time = text;
  let year = parsed.utcYear;
  if (!parsed.zoned) {
    if (!zone) return { wrong: `${name} ${text} names no time zone (write it as ${text}Z for UTC, or with its offset, ${text}+01:00)` };
    const found = instantsOf(parsed.ms, zone); // (parsed.ms: the wall time as UTC would put it)
    if (!found.length) return { wrong: `${name} ${text} does not exist in ${zone} (its clocks skip that hour)` };
    const withOffset = (instant) => `${text}${offsetText(Math.round((parsed.ms - instant) / 60000))}`;
    if (found.length > 1) {
      return { wrong: `${name} ${text} happens twice in ${zone} (its clocks go back over it): write ${withOffset(found[0])} for the first or ${withOffset(found[1])} for the second` };
    }
    const at = found[0];
    time = `${text}${offsetText(Math.round((parsed.ms - at) / 60000))}`;
    year = new Date(at).getUTCFullYear();
  }
  if (year < FIRST_YEAR || year > LAST_YEAR) return { wrong: `${name} ${text} is not between the years ${FIRST_YEAR} and ${LAST_YEAR}` };
  return { time };
}

const timeRefused = (name, text) => timeCell(name, text).wrong || null;

// Why the API would refuse a talk ending when it does, or null (times naming no zone as UTC).
function outOfOrder(starts, ends) {
  const start = instant(starts);
  const end = instant(ends);
  return start !== null && end !== null && end <= start ? `endsAt ${ends} is not after startsAt ${starts}` : null;
}

// What the API would refuse of a talk's fields (the CLI's `_fits`, in its order): text too
// long or with nothing visible, a language that is no tag, too many speakers, an end not after
// the start (when `inOrder`: both times read alike, see talkOfLine); each said.
function misfits(fields, inOrder = true) {
  const said = [];
  const texts = [["title", fields.title], ["track", fields.track], ["room", fields.room],
    ...(fields.speakers || []).map((name) => ["speaker", name])];
  for (const [name, text] of texts) {
    if (!text) continue; // none, or a title missing (said as such)
    if (chars(text) > LONGEST[name]) said.push(`${name} has ${chars(text)} characters, the most a talk's ${name} has is ${LONGEST[name]}`);
    else if (!/[^\p{Z}\p{C}]/u.test(text)) said.push(`${name} ${repr(text)} holds no visible character`);
  }
  const wrong = fields.language && languageRefused(fields.language);
  if (wrong) said.push(wrong);
  const speakers = fields.speakers || [];
  if (speakers.length > MOST_SPEAKERS) said.push(`${speakers.length} speakers, the most a talk has is ${MOST_SPEAKERS}`);
  const late = inOrder && outOfOrder(fields.startsAt, fields.endsAt);
  if (late) said.push(late);
  return said;
}

// The talk of one line's cells ({ talkId, fields, idFromTitle }), and what is wrong with it
// (`said`: every problem of the line, in the order the CLI's `_row` finds them, so that an
// organiser fixes the line once). `cells` are [column, text] in the header's order; `unnamed`
// [column number, text] of the header's cells without a name; `seen` the talks of lines before.
// The `unread` columns' cells are not known (a double quote never closed before them): nothing
// depending on them is judged, and the line is no talk.
function talkOfLine(cells, unnamed, names, given, seen, zone, unread = []) {
  const said = [];
  for (const [at, text] of unnamed) if (text) said.push(`column ${at} has no name in the header but holds ${repr(text)}`);
  if (!cells.some(([, text]) => text)) return { said }; // a blank line, its unnamed cells aside
  const cell = Object.fromEntries(cells);
  const title = cell.title;
  if (!title && !unread.includes("title")) said.push("a talk needs a title");
  const talkId = cell.id || slug(title || "");
  if (cell.id && !TALK_ID.test(talkId)) {
    said.push(`id ${repr(talkId)} is not one a talk can have: it may hold letters a-z and A-Z (no accents), digits and ._:~- only, at most 200 characters, starting with a letter or digit`);
  }
  // A row without an id is its title's talk (its id is settled by withIds); which talk a row
  // whose id or title is not known is, is not known either.
  const [kind, name] = cell.id ? ["id", talkId] : ["title", title || ""];
  if (!unread.includes("id") && !unread.includes(kind)) {
    if (name && seen.has(`${kind} ${name}`)) said.push(`talk ${name} appears twice`);
    seen.add(`${kind} ${name}`);
  }
  for (const [column, text] of cells) {
    if (CONTROL.test(text)) said.push(`${column} holds a control character (a line break?)`);
    else {
      // A speaker's character counted in the name, as the API counts it (speakers.N)
      const texts = column === "speakers" ? speakersFromCell(text).map((s, i) => [`speaker ${i + 1}`, s]) : [[column, text]];
      for (const [label, one] of texts) {
        const control = directionControl(one);
        const separator = TEXTS.includes(column) && lineSeparator(one);
        if (control) said.push(`${label} holds ${control}`);
        else if (separator) said.push(`${label} holds ${separator}`);
      }
    }
  }
  const fields = { title };
  if (names.includes("speakers") && !unread.includes("speakers")) fields.speakers = speakersFromCell(cell.speakers || "");
  // How each time was read (the CLI's `_row`): an instant, a wall time of no zone known
  // (compared with another such as written), or refused (compared with nothing)
  const read = {};
  for (const column of given.filter((name) => !unread.includes(name))) {
    fields[column] = cell[column] || null;
    if (TIMES.includes(column) && fields[column]) {
      const { wrong, time } = timeCell(column, fields[column], zone);
      if (wrong) said.push(wrong);
      else fields[column] = time;
      const wall = !zone && parseTime(fields[column])?.zoned === false;
      read[column] = !wrong ? "instant" : wall ? "wall" : null;
    }
  }
  said.push(...misfits(fields, Boolean(read.startsAt) && read.startsAt === read.endsAt));
  // (an export's ratingsPaused cell: read to be compared with the talk, never sent)
  const ratingsPaused = "ratingsPaused" in cell ? pausedCell(cell.ratingsPaused) : null;
  return { talkId, fields, idFromTitle: !cell.id, ratingsPaused, said };
}

// A ratingsPaused cell as the export writes it, "true" or "false" (a spreadsheet's TRUE and
// FALSE too); null for an empty cell or any other text (the CLI's `paused_cell`).
export function pausedCell(text) {
  const said = strip(text).toLowerCase();
  return said === "true" ? true : said === "false" ? false : null;
}

// The rows of a programme file's text (a byte-order mark and any line ends taken), each
// { line, talkId, fields, idFromTitle }, and every problem of each line that cannot be a talk
// ({ rows, errors }: the CLI's `read_programme`'s, in its words and order). A file that is not
// one throws ProgrammeError. A row's fields are the file's columns only (title always). `zone`:
// the venue's time zone (config.json's), which a time naming no zone of its own is read in.
export function readProgramme(text, zone = null) {
  let body = text.replace(/^\uFEFF/, "");
  let header = body.split(/\r\n?|\n/, 1)[0];
  if (/^[{[]/.test(header.replace(EDGES, ""))) {
    throw new ProgrammeError("this is JSON; import takes a CSV (the columns of `talkrate admin export`)");
  }
  // Excel's "sep=;" first line names the separator: read as a blank line, so that every line
  // keeps its number in what is said of it.
  const named = SEPARATOR_LINE.exec(header);
  const separator = named && DELIMITERS.includes(named[1]) ? named[1] : null;
  if (separator) {
    body = body.slice(header.length);
    header = body.split(/\r\n?|\n/, 2)[1] || "";
  }
  const delimiter = separator || delimiterOf(header);
  const records = csvRecords(body, delimiter);
  if (separator && records[0] && records[0].line === 1) records.shift();
  const headerLine = separator ? 2 : 1;
  // A quote the header opens and the file never closes: the header took every line.
  if (records.length === 1 && records[0].openedAt) {
    throw new ProgrammeError(`line ${headerLine}: ${quoteOpenAtEnd}: the header line cannot be read`, headerLine);
  }
  if (records[0] && records[0].line === headerLine && !records[0].cells) {
    const why = records[0].length === undefined ? cellTooLong : pastLimit([], records[0].cell, records[0].length);
    throw new ProgrammeError(`line ${headerLine}: ${why}: the header line cannot be read`, headerLine);
  }
  const names = ((records[0] && records[0].line === headerLine && records.shift().cells) || []).map(column);
  // A header cell with no name (the ";;" a spreadsheet writes after the last column when a cell
  // to the right was ever touched) names no column: its cells must be empty.
  const unnamed = names.flatMap((name, i) => (name ? [] : [i]));
  if (!names.includes("title")) {
    throw new ProgrammeError(`the CSV needs a header line naming its columns, with at least a title column (${COLUMNS.join(", ")})`);
  }
  const known = [...COLUMNS, ...RESULT_COLUMNS];
  const unknown = [...new Set(names.filter((name) => name && !known.includes(name)))].sort();
  if (unknown.length) {
    throw new ProgrammeError(`unknown columns [${unknown.map(repr).join(", ")}]; expected ${COLUMNS.join(", ")}`);
  }
  const twice = [...new Set(names.filter((name, i) => name && names.indexOf(name) !== i))].sort();
  if (twice.length) throw new ProgrammeError(`columns named twice in the header: ${twice.join(", ")}`);
  const given = OPTIONAL.filter((name) => names.includes(name));
  const rows = [];
  const errors = [];
  const seen = new Set();
  const cellsOf = (values, count) => {
    const cellText = (i) => unguarded(values[i]);
    const text = (i) => strip(TEXTS.includes(names[i]) ? withoutDropped(cellText(i)) : cellText(i));
    const at = [...names.keys()].slice(0, count);
    return [at.flatMap((i) => (names[i] ? [[names[i], text(i)]] : [])), unnamed.filter((i) => i < count).map((i) => [i + 1, text(i)])];
  };
  for (const { cells: values, line, cell, length, openedAt } of records) {
    const refuse = (message) => errors.push(new ProgrammeError(`line ${line}: ${message}`, line));
    // A quote never closed, said on the line it opened on; then the faults of the cells before
    // its cell, whole (the CLI's _row_before_quote). Its cell, the rest of the file, and the
    // cells after it are not known until it is closed: what depends on them is not judged
    // (the rest of the file's line breaks and length, or cells too few, were one fault said twice).
    if (openedAt) {
      errors.push(new ProgrammeError(`line ${openedAt}: ${quoteOpenAtEnd}`, openedAt));
      if (values.length > names.length) continue; // (cells too many already: where it closes, unknown)
      const [cells, unnamedCells] = cellsOf(values, values.length - 1);
      talkOfLine(cells, unnamedCells, names, given, seen, zone, names.slice(values.length - 1)).said.forEach(refuse);
      continue;
    }
    if (!values && length !== undefined) {
      refuse(pastLimit(names, cell, length));
      continue;
    }
    if (!values) {
      refuse(`${cellTooLong}; the lines after it were not read`);
      break;
    }
    if (!values.length) continue; // a blank line
    if (values.length !== names.length) {
      refuse(`${values.length} cells where the header has ${names.length}; a cell holding the separator ${repr(delimiter)} must be in double quotes`);
      continue;
    }
    const { said, ...row } = talkOfLine(...cellsOf(values, names.length), names, given, seen, zone);
    said.forEach(refuse);
    if (!said.length && row.fields) rows.push({ line, ...row });
  }
  // All by line, as the command line says them (a quote may open lines after its record's first).
  errors.sort((a, b) => a.line - b.line);
  return { rows, errors };
}

// The rows, each row without an id given the id of its talk (see with_ids in the CLI): the
// catalog's talk of that title under its slug, its earlier id or its slug numbered; else its
// slug unless another row holds it; else the first numbered slug nobody holds.
function withIds(rows, catalog, errors) {
  const used = new Set(rows.filter((row) => !row.idFromTitle).map((row) => row.talkId));
  const numbers = Array.from({ length: 98 }, (_, i) => i + 2);
  const kept = [];
  for (const row of rows) {
    if (!row.idFromTitle) {
      kept.push(row);
      continue;
    }
    const title = row.fields.title;
    const numbered = [row.talkId, ...numbers.map((n) => `${row.talkId}-${n}`)];
    const before = row.talkId !== slugWithoutHash(title) ? ["talk", ...numbers.map((n) => `talk-${n}`)] : [];
    const free = (id) => !used.has(id);
    const talkId = [row.talkId, earlierSlug(title), ...numbered.slice(1), ...before]
      // (a title saved with U+FEFF is matched as the API keeps it: the row's has none)
      .find((id) => free(id) && catalog.has(id) && withoutDropped(String(catalog.get(id).title)) === title)
      || numbered.find((id) => free(id) && (id === row.talkId || !catalog.has(id)));
    if (!talkId) {
      errors.push(new ProgrammeError(`line ${row.line}: no free id for ${repr(title)}: give the row one`, row.line));
      continue;
    }
    used.add(talkId);
    kept.push({ ...row, talkId });
  }
  return kept;
}

// The fields the row would change of the talk (times compared as instants); a field the row
// does not have is no change.
export function changesOf(fields, current) {
  const differs = (name) => {
    if (!(name in fields)) return false;
    if (name === "speakers") return JSON.stringify(fields.speakers || []) !== JSON.stringify(current.speakers || []);
    const wanted = fields[name] || null;
    const have = current[name] || null;
    if (name === "language") return (wanted || "").toLowerCase() !== (have || "").toLowerCase();
    if (wanted === have) return false;
    if (!TIMES.includes(name)) return true;
    return wanted === null || instant(wanted) === null || instant(wanted) !== instant(have);
  };
  return COLUMNS.slice(1).filter(differs);
}

// Why the API would refuse this text as a talk's `kind` (title, track, room, speaker), in the
// order it checks (without U+FEFF and trimmed, then direction controls, length, control
// characters, a visible character); null when it takes it.
function textRefused(label, kind, value) {
  const text = strip(withoutDropped(String(value)));
  const control = directionControl(text);
  if (control) return `${label} holds ${control}`;
  if (chars(text) > LONGEST[kind]) return `${label} has ${chars(text)} characters, the most a talk's ${kind} has is ${LONGEST[kind]}`;
  if (CONTROL.test(text)) return `${label} holds a control character`;
  const separator = lineSeparator(text);
  if (separator) return `${label} holds ${separator}`;
  if (!/[^\p{Z}\p{C}]/u.test(text)) return `${label} ${repr(text)} holds no visible character`;
  return null;
}

// What the API refuses now of a value a talk holds (saved before the rule), each "room holds…".
function storedRefused(column, value) {
  if (value === null || value === undefined || column === "language") return []; // (each stored was checked so)
  if (TIMES.includes(column)) return [timeRefused(column, String(value))].filter(Boolean);
  if (column === "speakers") return (value || []).map((name, i) => textRefused(`speaker ${i + 1}`, "speaker", name)).filter(Boolean);
  return [textRefused(column, column, value)].filter(Boolean);
}

// The refusals of a row that changes its talk, for each value of a column the file lacks: a PUT
// replaces the whole talk, so the import sends it as stored (see the CLI's `sendable`).
function storedRefusals(row, current) {
  return COLUMNS.slice(2).filter((column) => !(column in row.fields)).flatMap((column) =>
    storedRefused(column, current[column]).map((said) => new ProgrammeError(`line ${row.line}: the talk's stored ${said}; `
      + `the file has no ${column} column, so the import would send it as stored, and the API now refuses it: add a ${column} `
      + "column with a value the API takes, or edit the talk first", row.line)));
}

// What importing the rows into the catalog (its talks as listed, with their revisions) would
// do, as `talkrate admin import --dry-run` says it: { created, updated, unchanged } rows (an
// updated row with its talk, `current`, and `changes`), `notInFile` ids, and `errors`, every one
// the CLI names (see its `to_send`), in its words and order: the file's own, ids not to be had,
// times out of order with the catalog's, and stored values of a column the file lacks that the
// API refuses now, by line.
export function planImport({ rows, errors: readErrors }, talks) {
  const catalog = new Map(talks.map((talk) => [talk.id, talk]));
  const errors = [...readErrors];
  const plan = { created: [], updated: [], unchanged: [], notInFile: [], errors };
  const identified = withIds(rows, catalog, errors);
  const inFile = new Set(identified.map((row) => row.talkId));
  for (const row of identified) {
    const current = catalog.get(row.talkId);
    const refused = [];
    const merged = { ...(current || {}), ...row.fields };
    const late = outOfOrder(merged.startsAt, merged.endsAt);
    if (late) refused.push(new ProgrammeError(`line ${row.line}: ${late}`, row.line));
    const changes = current ? changesOf(row.fields, current) : [];
    if (changes.length) refused.push(...storedRefusals(row, current));
    if (refused.length) errors.push(...refused);
    else if (!current) plan.created.push(row);
    else (changes.length ? plan.updated : plan.unchanged).push({ ...row, current, changes });
  }
  plan.notInFile = talks.map((talk) => talk.id).filter((id) => !inFile.has(id)).sort();
  // An import never pauses or resumes a talk's ratings (its PUT sends no ratingsPaused): the
  // file's talks that are paused, in the file's order (a talk it creates is not), and the rows
  // whose ratingsPaused cell (an export read back) says otherwise of their talk, each with
  // `inFile` and the talk's `paused` (the CLI's `paused_talks` and `pause_not_applied`).
  const paused = (row) => Boolean(catalog.get(row.talkId)?.ratingsPaused);
  const withTalk = (row) => ({ ...row, current: catalog.get(row.talkId) });
  plan.paused = identified.filter(paused).map(withTalk);
  plan.pausedNotApplied = identified.filter((row) => row.ratingsPaused !== null && row.ratingsPaused !== paused(row))
    .map((row) => ({ ...withTalk(row), inFile: row.ratingsPaused, paused: paused(row) }));
  // As the CLI's BadRows says them: in the file's order, a line's own in the order found, each
  // once (two speakers too long by as much are one problem).
  const said = new Set();
  plan.errors = errors.filter((error) => !said.has(error.message) && said.add(error.message)).sort((a, b) => a.line - b.line);
  return plan;
}

// The body of the PUT that imports a row: the talk's fields the file has no column for stay as
// they are (a PUT replaces the whole talk); nothing empty is sent.
export function importBody(row, current) {
  const kept = current ? Object.fromEntries(COLUMNS.slice(1).map((name) => [name, current[name]])) : {};
  return Object.fromEntries(Object.entries({ ...kept, ...row.fields }).filter(([, v]) => v !== null && v !== undefined));
}
