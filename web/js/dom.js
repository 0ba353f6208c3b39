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

// Replace a node's children.
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

// Set a text only when it changed: screen readers announce live regions on every write.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// Put nodes (new or kept from before) in a container in this order, touching the DOM only when
// the order changed, and give the keyboard focus back to the element that held it: a live update
// must not throw a keyboard or screen-reader user back to the top of the page.
export function arrange(container, nodes) {
  const current = [...container.children];
  if (current.length === nodes.length && current.every((node, i) => node === nodes[i])) return;
  const active = document.activeElement;
  const held = active && active !== document.body && container.contains(active);
  container.replaceChildren(...nodes);
  if (!held || document.activeElement === active) return;
  // The same element, or the one that took its place (a redrawn card's link to the same page).
  const href = active.getAttribute("href");
  const next = active.isConnected ? active : href && [...container.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === href);
  if (next) next.focus({ preventScroll: true });
}

// Texts an organiser typed that share a line (speakers, a track and a room), each isolated from
// the others: a right-to-left name, or an override pasted with one (U+202E), cannot turn around
// what follows it. The line's element takes dir="auto", and so the direction of its first
// letter: the spans are isolated by CSS (.isolate), not by <bdi>, which dir="auto" skips.
export function isolated(texts, separator) {
  return texts.filter(Boolean).flatMap((text, i) => [i ? separator : null, h("span", { class: "isolate" }, text)]);
}

// A title or a search quoted in the page's own words ("Deleted “…”."), isolated as above.
export const quoted = (text) => ["“", h("span", { class: "isolate" }, text), "”"];

// A title in plain text (the window's title, a confirmation dialog): isolated by Unicode's
// first-strong isolate and its closing mark.
export const isolatedText = (text) => `\u2068${text}\u2069`;

// Counts with thousands separators: "25,000 ratings" reads at a glance from the back of a room.
export const formatCount = (n) => Number(n).toLocaleString("en");

export function plural(n, one, many) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function formatAvg(avg) {
  return avg === null || avg === undefined ? "–" : avg.toFixed(2);
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

export function talkHref(talkId) {
  return `/app/talks/${encodeURIComponent(talkId)}`;
}
