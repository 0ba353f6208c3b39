// The talks this phone has read (the programme's list, a talk's page), kept in localStorage so
// that a talk page opened without a network (its QR code scanned with the hall's Wi-Fi down)
// still names its talk. Only what names a talk: its title, language and speakers; never its
// counts (kept, they would be shown as if current), its times or room (an organiser may have
// moved it since). The newest read MOST talks: a programme's worth, some 50 KB at most.
const KEY = "talkrate.known";
const MOST = 500;
let written = null; // what this page wrote last (the same list read again writes nothing)

// The kept talks, by id, the newest read last (an array kept: an object would put ids that
// read as numbers first).
function read() {
  try {
    const kept = JSON.parse(localStorage.getItem(KEY));
    return new Map(Array.isArray(kept) ? kept.filter((entry) => Array.isArray(entry) && typeof entry[1] === "string").map(([id, ...rest]) => [id, rest]) : []);
  } catch {
    return new Map();
  }
}

// Keeps each talk of `talks` (as the API answers them) as the newest read.
export function rememberTalks(talks) {
  const kept = read();
  for (const talk of talks) {
    if (!talk || typeof talk.id !== "string" || typeof talk.title !== "string") continue;
    kept.delete(talk.id); // (then set again: the newest read last)
    kept.set(talk.id, [talk.title, talk.language || null, Array.isArray(talk.speakers) ? talk.speakers : []]);
  }
  const text = JSON.stringify([...kept].slice(-MOST).map(([id, rest]) => [id, ...rest]));
  if (text === written) return;
  try {
    localStorage.setItem(KEY, text);
    written = text;
  } catch {
    // Private mode or full storage: a talk page offline says it cannot name its talk.
  }
}

// What this phone last read of the talk `talkId` ({title, language, speakers}), or null.
export function knownTalk(talkId) {
  const kept = read().get(talkId);
  if (!kept) return null;
  return { title: kept[0], language: kept[1] || null, speakers: Array.isArray(kept[2]) ? kept[2] : [] };
}
