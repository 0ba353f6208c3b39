// The programme as a spreadsheet, as cli/talkrate_cli/programme.py writes it: the organisers'
// page downloads the results file `talkrate admin export` writes (a browser test compares them),
// and suggests the ids `talkrate admin import` gives rows without one.

export const COLUMNS = ["id", "title", "speakers", "track", "room", "startsAt", "endsAt"];
const RESULT_COLUMNS = ["count", "avg", "1", "2", "3", "4", "5"];

// A cell of the CSV: quoted when needed, and never read as a formula by a spreadsheet (a text's
// own leading "'" is guarded too, so an import reads "'=x" back as itself).
function cell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r']/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// The speakers cell, as the CLI's import reads it: names joined by "; ", a ";" or a backslash in a
// name escaped with a backslash ("Smith\; Jr"), so each name reads back exactly.
function speakersCell(speakers) {
  return (speakers || []).map((name) => name.replace(/\\/g, "\\\\").replace(/;/g, "\\;")).join("; ");
}

// The API lists talks without their ratings while its read model does not answer: a file of
// zeros would read as results, so none is made.
export class ResultsUnavailable extends Error {
  constructor() {
    super("The results cannot be read now (the ratings store did not answer). Nothing was downloaded: try again in a minute.");
  }
}

// The file `talkrate admin export` writes too: an average to three places, a tie rounded up.
export function resultsCsv(talks) {
  if (talks.some((talk) => !talk.summary)) throw new ResultsUnavailable();
  const lines = [[...COLUMNS, ...RESULT_COLUMNS].join(",")];
  for (const talk of talks) {
    const summary = talk.summary;
    const ratings = summary.ratings || {};
    const avg = summary.avg === null || summary.avg === undefined ? "" : summary.avg.toFixed(3);
    lines.push([
      talk.id, talk.title, speakersCell(talk.speakers), talk.track, talk.room, talk.startsAt, talk.endsAt,
      summary.count, avg, ratings["1"] || 0, ratings["2"] || 0, ratings["3"] || 0, ratings["4"] || 0, ratings["5"] || 0,
    ].map(cell).join(","));
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

// 32-bit FNV-1a of the text's UTF-8, in 8 hex digits.
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, "0");
}
