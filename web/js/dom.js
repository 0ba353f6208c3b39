import { venueZone, wallOf, wallText } from "./zone.js";

// Building DOM nodes without a framework: h("p", {class: "x", onclick: f}, "text", child).
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// The element in `node` that has the keyboard focus, if one has.
function focusIn(node) {
  const active = document.activeElement;
  return active && active !== document.body && node.contains(active) ? active : null;
}

// After `container` was redrawn, give the keyboard focus back to `active`, which held it: the
// same element when it is still on the page (kept, or moved), else the link to the same page
// that took its place (a card's or a row's title drawn again for a new title). Whether it found
// one.
function refocus(container, active) {
  if (document.activeElement === active) return true;
  const href = active.getAttribute("href");
  const next = active.isConnected ? active : href && [...container.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === href);
  if (next) next.focus({ preventScroll: true });
  return Boolean(next);
}

// Replace a node's children; the keyboard focus in it stays where it was (see refocus): a live
// update drawing a kept row's cell again must not throw it back to the page's start.
export function fill(node, ...children) {
  const active = focusIn(node);
  node.replaceChildren();
  append(node, children);
  if (active) refocus(node, active);
  return node;
}

// Set a text only when it changed: screen readers announce live regions on every write.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// Fill a node only when what it says changed, as setText does: a live region filled again is
// read out again, and a button in it made anew takes the keyboard focus with it.
export function refill(node, ...children) {
  const next = append(document.createDocumentFragment(), children);
  if (node.textContent !== next.textContent) node.replaceChildren(next);
  return node;
}

// The controls of a list's item a keyboard reaches, in order.
const controls = (node) => [...node.querySelectorAll("a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])")];

// Put nodes (new or kept from before) in a container in this order, touching the DOM only when
// the order changed, and give the keyboard focus back to the element that held it: a live update
// must not throw a keyboard or screen-reader user back to the top of the page.
export function arrange(container, nodes) {
  const current = [...container.children];
  if (current.length === nodes.length && current.every((node, i) => node === nodes[i])) return;
  const active = focusIn(container);
  const index = active ? current.findIndex((node) => node.contains(active)) : -1;
  const place = index >= 0 ? controls(current[index]).indexOf(active) : -1;
  container.replaceChildren(...nodes);
  // The same element, or the one that took its place (a redrawn card's link to the same page).
  if (!active || refocus(container, active) || index < 0 || !nodes.length) return;
  // Its item gone (removed by someone else, or left out by the search now): the same control
  // of the item that took its place, or of the last one, as after an organiser's own delete.
  const item = nodes.includes(current[index]) ? current[index] : nodes[Math.min(index, nodes.length - 1)];
  const choices = controls(item);
  const next = choices[place] || choices[0];
  if (next) next.focus({ preventScroll: true });
}

// Texts an organiser typed that share a line (speakers; a track, a room and a time): each in a
// span of its own with dir="auto", so that it reads in the direction of its own first letter,
// whatever the line's: "C++" after a right-to-left name stays "C++", not "++C", and an
// override pasted with a name (U+202E) cannot reach past it. A piece that is already a node (a
// group of such spans) is put as it is.
export function isolated(pieces, separator) {
  return pieces.filter(Boolean).flatMap((piece, i) => [i ? separator : null, piece instanceof Node ? piece : h("span", { dir: "auto" }, piece)]);
}

// A list in the pages' English: "A", "A and B", "A, B and C" (`talkrate` writes its lists
// alike: output.listed); in pieces as Intl.ListFormat's formatToParts gives them.
const englishParts = (items) => items.flatMap((item, i) => [
  ...(i ? [{ type: "literal", value: i < items.length - 1 ? ", " : " and " }] : []),
  { type: "element", value: item },
]);
export const listed = (items) => englishParts(items).map((part) => part.value).join("");

// A talk's speakers as a list the way the talk's language writes one (Intl.ListFormat, narrow:
// "A وB وC" in Arabic, "A、B、C" in Japanese, "A, B und C" in German), each name isolated as
// above: a Latin comma between Arabic names read wrong. In the pages' English (`listed`: "A, B
// and C", where English's narrow format writes "A, B, C" and its long one "A, B, and C") where
// the talk is in English, has no language, or one the browser has no list format for (or no tag
// at all); the "and" of such a list is then marked English, so that a screen reader reading the
// names in the talk's voice says it in English. `talkrate show` writes the same lists from
// patterns this function wrote in Node (cli/talkrate_cli/list_patterns.py: make list-patterns).
const listFormats = new Map(); // language -> its list format
const listFormat = (language) => {
  if (!listFormats.has(language)) {
    let format;
    try {
      format = new Intl.ListFormat(language ? [language, "en"] : ["en"], { type: "conjunction", style: "narrow" });
    } catch {
      format = new Intl.ListFormat(["en"], { type: "conjunction", style: "narrow" });
    }
    listFormats.set(language, format);
  }
  return listFormats.get(language);
};
const primaryLanguage = (tag) => String(tag || "en").split("-")[0].toLowerCase();

// The pieces of that list: {type: "element", value: a name} and {type: "literal", value: what
// comes between, lang: its language where it is not the talk's}.
export function speakerParts(names, language) {
  const format = listFormat(language || "");
  const written = format.resolvedOptions().locale;
  if (primaryLanguage(written) !== "en") return format.formatToParts(names);
  const lang = primaryLanguage(language) === "en" ? undefined : "en";
  return englishParts(names).map((part) => (part.type === "literal" ? { ...part, lang } : part));
}

export function speakerList(names, language) {
  return speakerParts(names.filter(Boolean).map(String), language).map((part) => (part.type === "element"
    ? h("span", { dir: "auto" }, part.value) : part.lang ? h("span", { lang: part.lang }, part.value) : part.value));
}

// The first letter of a text, or a direction mark, tells which way it reads (as dir="auto" does).
const FIRST_STRONG = /[\p{L}\u200e\u200f\u061c]/u;
const RIGHT_TO_LEFT = /[\u200f\u061c\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]/u;
const readsRightToLeft = (text) => RIGHT_TO_LEFT.test((String(text).match(FIRST_STRONG) || [""])[0]);

// The direction of a line of such texts, for its dir: right to left ("rtl") when every text in
// it that has a letter reads so (a line of Hebrew names starts on the right, with the first
// name), else the page's (null), the separators with it: one right-to-left name does not turn
// the line's other names, its track and its time around.
export function lineDirection(texts) {
  const worded = texts.filter((text) => text && FIRST_STRONG.test(text));
  return worded.length > 0 && worded.every(readsRightToLeft) ? "rtl" : null;
}

// Give a line the direction of its texts (drawn again, it may change), or fill it with them too.
export function directLine(line, texts) {
  const direction = lineDirection(texts);
  if (direction) line.setAttribute("dir", direction);
  else line.removeAttribute("dir");
  return line;
}

// A title or a search quoted in the page's own words ("Deleted “…”."), isolated as above: the
// quotes and the words around stay in the page's order. `lang`: a title's talk's language.
export const quoted = (text, lang) => ["“", h("span", { dir: "auto", lang }, text), "”"];

// The language an organiser gave a talk (a BCP 47 tag), on an element showing its title or its
// speakers (HTML's lang): a screen reader reads them in that language's voice, not in the page's
// English. Never guessed from the script (Arabic's letters write Persian and Urdu too). New
// elements take it as `lang: talk.language` (h leaves out a null); kept ones by this.
export function setLang(node, language) {
  if (language) node.setAttribute("lang", language);
  else node.removeAttribute("lang");
}

// A title in plain text (the window's title, a confirmation dialog): isolated by Unicode's
// first-strong isolate and its closing mark.
export const isolatedText = (text) => `\u2068${text}\u2069`;

// Counts with thousands separators: "25,000 ratings" reads at a glance from the back of a room.
export const formatCount = (n) => Number(n).toLocaleString("en");

export function plural(n, one, many) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

// A quotient of whole numbers (numerator / denominator, both positive) to `digits` places, a
// tie rounded up: the exact value's, as the results export writes it. The API's figures are
// rounded to four places already, and rounded again to two they could be 0.01 off (442/109 =
// 4.05504…: the API's 4.055 written 4.05). BigInt: a count past 2^53 / 10^digits stays exact.
export function quotientText(numerator, denominator, digits) {
  const scale = 10n ** BigInt(digits);
  const q = (2n * BigInt(numerator) * scale + BigInt(denominator)) / (2n * BigInt(denominator));
  return digits ? `${q / scale}.${String(q % scale).padStart(digits, "0")}` : String(q);
}

// The count and the sum of a histogram ({"1": n, …, "5": n}), or null for none.
export function histogramSums(ratings) {
  if (!ratings || typeof ratings !== "object") return null;
  let count = 0;
  let sum = 0;
  for (const value of [1, 2, 3, 4, 5]) {
    const n = Number(ratings[value] || 0);
    count += n;
    sum += n * value;
  }
  return { count, sum };
}

// An average to two places: from its histogram when given (exact), else from the API's figure.
export function formatAvg(avg, ratings = null) {
  const sums = histogramSums(ratings);
  if (sums) return sums.count ? quotientText(sums.sum, sums.count, 2) : "–";
  return avg === null || avg === undefined ? "–" : avg.toFixed(2);
}

// Each leaderboard place's score ({rank, score, ratings}, best first; `prior`, the board's): to
// two places, or more where two would write it as the place above or below of another rank
// writes its own ("3.18" at 1 and at 2 read as a tie ranked apart: 3.182 and 3.176). Written
// from the place's histogram, exact (up to six places: two scores four wrote alike, 3.4505 at 6
// and 7, are 3.45055 and 3.45045); without one, from the API's score (up to its four). Tied
// talks (one rank) take the same places, from the places around the whole tie. `talkrate top`
// alike.
export function formatScores(places, prior = null) {
  // (exact while the prior's weight and its ratings' sum are whole numbers, as they are: 10 of 3)
  const exact = prior !== null && Number.isInteger(prior.weight) && Number.isInteger(prior.mean * prior.weight)
    && places.every((place) => histogramSums(place.ratings));
  const text = (place, digits) => {
    if (!exact) return place.score.toFixed(digits);
    const { count, sum } = histogramSums(place.ratings);
    return quotientText(Math.round(prior.mean * prior.weight) + sum, prior.weight + count, digits);
  };
  const most = exact ? 6 : 4;
  const texts = [];
  for (let first = 0; first < places.length;) {
    let last = first;
    while (last + 1 < places.length && places[last + 1].rank === places[first].rank) last++;
    const others = [places[first - 1], places[last + 1]].filter(Boolean);
    let digits = 2;
    while (digits < most && others.some((other) => text(other, digits) === text(places[first], digits))) digits++;
    for (let i = first; i <= last; i++) texts.push(text(places[i], digits));
    first = last + 1;
  }
  return texts;
}

// A formatter of times in the venue's zone when the deployment names one, else the device's own
// (zone.js). The venue's are kept (a programme of 300 talks formats 900 times); the device's are
// made for each time, as toLocaleTimeString does: a device moved to another zone names the new one.
const formatters = new Map();
function formatter(options) {
  const zone = venueZone();
  if (!zone) return new Intl.DateTimeFormat([], options);
  const key = `${zone} ${JSON.stringify(options)}`;
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat([], { ...options, timeZone: zone }));
  return formatters.get(key);
}

// Times, short.
export function formatTime(iso, options = {}) {
  if (!iso) return "";
  return formatter({ hour: "2-digit", minute: "2-digit", ...options }).format(new Date(iso));
}

// The short name of the zone those times are in, at that time ("CET", "GMT+1", "UTC", "EST"):
// a room PC left on UTC, or a phone on its home zone, shows other hours than the printed
// programme unless the venue's zone is configured, and says which hours it shows.
export function formatZone(iso) {
  if (!iso || Number.isNaN(Date.parse(iso))) return "";
  const zone = formatter({ timeZoneName: "short" }).formatToParts(new Date(iso)).find((part) => part.type === "timeZoneName");
  return zone ? zone.value : "";
}

// A time with the name of its zone ("10:00 CET").
export const formatZoned = (iso, options) => `${formatTime(iso, options)} ${formatZone(iso)}`;

// The day an instant is on where the times are shown (the venue's), as "2026-12-05".
export const dayOf = (instant) => wallText(wallOf(instant)).slice(0, 10);

// With its year when that is not this one's, or the day is half a year away or more.
export function formatDay(iso) {
  const at = new Date(iso);
  if (!iso || Number.isNaN(at.getTime())) return "";
  const far = dayOf(at.getTime()).slice(0, 4) !== dayOf(Date.now()).slice(0, 4) || Math.abs(at - Date.now()) > 182 * 86_400_000;
  return formatter({ weekday: "short", day: "numeric", month: "short", year: far ? "numeric" : undefined }).format(at);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// What the page open now asks before the app leaves it for another (a link in the app, Back):
// the organisers' page, while its talk form holds changes not saved, asks whether to drop them.
// `check` returns whether the page may be left; the returned function takes it away.
let leaving = null;
export function askBeforeLeaving(check) {
  leaving = check;
  return () => {
    if (leaving === check) leaving = null;
  };
}
export const mayLeave = () => !leaving || leaving();

// Whether this page was opened at an address only this computer reaches (127.0.0.1, localhost,
// [::1]: a local runtime's own address): a QR code made of it leads phones nowhere, which is
// said where QR codes are shown, for whoever sets them up.
export const onLoopback = () => /^(?:localhost|.+\.localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i.test(location.hostname);
export const loopbackWords = (one = false) => `Phones cannot open ${location.host}, so ${one ? "this QR code leads" : "these QR codes lead"} them nowhere: open this page at an address of this computer that phones reach (the local runtime listens to them with --host 0.0.0.0).`;

export function talkHref(talkId) {
  return `/app/talks/${encodeURIComponent(talkId)}`;
}
