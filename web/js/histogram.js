// The histogram and its statistics, laid out once and then updated in place: rows and figures
// keep their size, so a live update never moves anything else on the page.
import { h, setText, plural, formatAvg, formatCount } from "./dom.js";

const VALUES = ["5", "4", "3", "2", "1"];

export function histogramView({ big = false } = {}) {
  const rows = {};
  const list = h("ol", { class: big ? "histogram big" : "histogram", "aria-label": "Ratings by value" });
  for (const value of VALUES) {
    const bar = h("span", { class: "fill" });
    const count = h("span", { class: "count" }, "0");
    list.append(
      h("li", {},
        h("span", { class: "value", "aria-hidden": "true" }, `${value}★`),
        h("span", { class: "sr-only" }, `${plural(Number(value), "star", "stars")}: `),
        h("span", { class: "track", "aria-hidden": "true" }, bar),
        count),
    );
    rows[value] = { bar, count };
  }
  const total = h("span", { class: "total", "data-testid": "total" }, "0 ratings");
  const average = h("span", { class: "average", "data-testid": "average" }, "–");
  const summary = h("p", { class: big ? "summary big" : "summary" },
    h("span", { class: "avg-block" }, average, h("span", { class: "avg-label" }, " average")),
    total);

  // The rest of what StatsFunction computes, for the speaker reading their results. Live
  // messages carry no statistics: these follow each read (at once, then at least every minute).
  const stats = h("p", { class: "stats", "data-testid": "stats" });

  function update({ ratings, count, avg, stats: figures }) {
    if (figures) {
      setText(stats, figures.totalCount ? `Median ${figures.median} · most often ${figures.mode} · standard deviation ${figures.stdDev.toFixed(2)}` : "");
    }
    const counts = VALUES.map((v) => Number((ratings || {})[v] || 0));
    const sum = count ?? counts.reduce((a, b) => a + b, 0);
    const most = Math.max(1, ...counts);
    VALUES.forEach((value, i) => {
      const row = rows[value];
      row.bar.style.setProperty("--share", String(counts[i] / most));
      setText(row.count, formatCount(counts[i]));
    });
    let mean = avg;
    if (mean === undefined) mean = sum ? counts.reduce((a, n, i) => a + n * Number(VALUES[i]), 0) / sum : null;
    setText(average, formatAvg(mean));
    setText(total, plural(sum, "rating", "ratings"));
  }

  return { list, summary, stats, update };
}
