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

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

export function formatAvg(avg) {
  return avg === null || avg === undefined ? "–" : avg.toFixed(2);
}

// Times in the attendee's own zone, short.
export function formatTime(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDay(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
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
