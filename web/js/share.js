// A speaker sharing their talk's results: the talk page's address and a line of its title, count
// and average as the page shows them. A phone's own share sheet where the browser has one (the
// Web Share API), else both copied to the clipboard, and said so on the page.
import { h, setText } from "./dom.js";

// `what()` answers { title, text, url } at the moment of sharing (the figures shown then), or
// null while there is nothing to share (the talk not read yet). Its node: the button and the
// line that says what happened.
export function shareAction(what) {
  const said = h("span", { class: "share-said", role: "status", "data-testid": "share-said" });
  const button = h("button", { type: "button", class: "quiet share", onclick: share }, "Share the results");
  async function share() {
    const data = what();
    if (!data) return;
    setText(said, "");
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      try {
        await navigator.share(data);
        return;
      } catch (error) {
        // Closed by the speaker: nothing to say. Refused (no permission, a sheet already open):
        // the clipboard instead.
        if (error && error.name === "AbortError") return;
      }
    }
    try {
      await navigator.clipboard.writeText(`${data.text} ${data.url}`);
      setText(said, "Copied: the results and the talk's link, to paste anywhere.");
    } catch {
      // (no clipboard either: the address to copy by hand)
      setText(said, `Copy this link to share the results: ${data.url}`);
    }
  }
  return h("p", { class: "share-line" }, button, " ", said);
}
