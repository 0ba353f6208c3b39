// /app/admin/qr-codes: every talk's QR code on one printable sheet, each with its title, room and
// time and the short address under it, for the organisers to print and cut (one download per talk
// on the organisers' page took 41 clicks for 41 talks). Fetched when opened, like that page.
import { h, fill, setText, talkHref, isolated, lineDirection, plural, onLoopback, loopbackWords } from "../dom.js";
import { allTalks } from "../api.js";
import { qrSvg } from "../qr.js";
import { zoned } from "../window.js";
import { errorText } from "./common.js";

// By start (the order a room's door and a programme follow), talks without times last; then by title.
function order(a, b) {
  const at = (talk) => Date.parse(talk.startsAt) || Infinity;
  return at(a) - at(b) || a.title.localeCompare(b.title);
}

function card(talk) {
  const address = `${location.origin}${talkHref(talk.id)}`;
  const short = address.replace(/^https?:\/\//, "");
  const schedule = talk.startsAt ? zoned(talk.startsAt) : null;
  const place = [talk.room, schedule].filter(Boolean);
  return h("li", { class: "qr-card" },
    qrSvg(address, `QR code of ${address}`),
    h("h2", { dir: "auto", lang: talk.language }, talk.title),
    place.length ? h("p", { class: "meta", dir: lineDirection(place) }, isolated(place, " · ")) : null,
    // Broken before a slash rather than anywhere, as on the room screen.
    h("p", { class: "qr-url", "data-testid": "qr-address" },
      short.split("/").map((part, i) => (i ? [h("wbr"), "/", part] : part))));
}

export function qrSheetPage(main) {
  document.title = "QR codes · talkrate";
  document.body.classList.add("wide-page");
  const status = h("p", { class: "muted", role: "status" }, "Loading the programme…");
  const sheet = h("ul", { class: "qr-sheet" });
  fill(main,
    h("h1", {}, "QR codes of every talk"),
    h("p", { class: "toolbar no-print" },
      h("button", { type: "button", onclick: () => print() }, "Print"),
      h("a", { href: "/app/admin", class: "toolbar-link" }, "Back to the organisers' page")),
    onLoopback() ? h("p", { class: "notice no-print", "data-testid": "loopback-note" }, loopbackWords()) : null,
    status, sheet);
  let stopped = false;
  allTalks()
    .then((talks) => {
      if (stopped) return;
      setText(status, `${plural(talks.length, "talk", "talks")}: six codes to an A4 page.`);
      fill(sheet, [...talks].sort(order).map(card));
    })
    .catch((error) => {
      if (!stopped) setText(status, `${errorText(error)} Reload to try again.`);
    });
  return () => {
    stopped = true;
  };
}
