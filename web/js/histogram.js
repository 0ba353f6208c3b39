// The histogram and its statistics, laid out once and then updated in place: rows and figures
// keep their size, so a live update never moves anything else on the page.
import { h, refill, setText, plural, formatAvg, formatCount, listed } from "./dom.js";

const VALUES = ["5", "4", "3", "2", "1"];

// `announcer` (announce.js), if given, hears the count and the average in words at each update.
export function histogramView({ big = false, announcer = null } = {}) {
  const rows = {};
  const list = h("ol", { class: big ? "histogram big" : "histogram", "aria-label": "Ratings by value" });
  for (const value of VALUES) {
    const bar = h("span", { class: "fill" });
    const count = h("span", { class: "count" }, "–");
    list.append(
      h("li", {},
        h("span", { class: "value", "aria-hidden": "true" }, `${value}★`),
        h("span", { class: "sr-only" }, `${plural(Number(value), "star", "stars")}: `),
        h("span", { class: "track", "aria-hidden": "true" }, bar),
        count),
    );
    rows[value] = { bar, count };
  }
  // "–" until the first figures arrive: a talk not read yet is not a talk nobody rated.
  const total = h("span", { class: "total", "data-testid": "total" }, "– ratings");
  const average = h("span", { class: "average", "data-testid": "average" }, "–");
  const summary = h("p", { class: big ? "summary big" : "summary" },
    h("span", { class: "avg-block" }, average, h("span", { class: "avg-label" }, " average")),
    total);

  // The rest of what StatsFunction computes, for the speaker reading their results: from a
  // read, StatsFunction's own figures; from a live message (which carries the histogram only),
  // or a read that came without them, the same figures computed here from the counts.
  // Laid out from the start, "–" until the first rating: the figures' arrival moves nothing.
  const figure = (label, testid, kind = null) => {
    const value = h("dd", { "data-testid": testid }, "–");
    return { node: h("div", { class: kind }, h("dt", {}, label), value), value };
  };
  const median = figure("Median", "median");
  // The population deviation (divided by the count): a spreadsheet's STDEV.P, not its STDEV.
  const spread = figure("Std. deviation (population)", "std-dev");
  // Last, with room kept for a four-way tie (app.css): its words grow with ties, and move
  // nothing.
  const mode = figure("Most often", "mode", "modes");
  const stats = h("dl", { class: "stats", "data-testid": "stats" }, median.node, spread.node, mode.node);

  function update({ ratings, count, avg, stats: figures }) {
    const said = figures || statsOf(ratings);
    setText(median.value, said.totalCount ? String(said.median) : "–");
    // Every value given most often, from the counts as the deviation (else StatsFunction's):
    // "4★ and 5★" read out as "4 and 5 stars", not "4 black star and 5 black star" (as the
    // rows are read); all five alike, said so.
    const modes = (ratings ? modesOf(ratings) : said.modes) || [];
    if (modes.length && modes.length < 5) {
      const read = modes.length === 1 ? plural(modes[0], "star", "stars") : `${modesText(modes)} stars`;
      refill(mode.value, h("span", { "aria-hidden": "true" }, modesText(modes, "★")), h("span", { class: "sr-only" }, read));
    } else setText(mode.value, modesText(modes));
    // (from the counts, not StatsFunction's four places: 1.674979 was 1.675 there, 1.68 here)
    setText(spread.value, said.totalCount ? (ratings ? deviationOf(ratings) : said.stdDev).toFixed(2) : "–");
    const counts = VALUES.map((v) => Number((ratings || {})[v] || 0));
    const sum = count ?? counts.reduce((a, b) => a + b, 0);
    const most = Math.max(1, ...counts);
    VALUES.forEach((value, i) => {
      const row = rows[value];
      row.bar.style.setProperty("--share", String(counts[i] / most));
      setText(row.count, formatCount(counts[i]));
    });
    // From the counts, exact (the API's four places, rounded again, could be 0.01 off).
    setText(average, ratings ? formatAvg(null, ratings) : formatAvg(avg ?? null));
    setText(total, plural(sum, "rating", "ratings"));
    // (its length, by which a room screen's count past a million gives up some size: app.css)
    if (big) total.style.setProperty("--chars", String(total.textContent.length));
    if (announcer) announcer.figures(sum ? `${total.textContent}, average ${average.textContent}` : "No ratings yet");
  }

  return { list, summary, stats, update };
}

// The population deviation of a histogram, unrounded (the page writes it to two places).
export function deviationOf(ratings) {
  const counts = [1, 2, 3, 4, 5].map((v) => Number((ratings || {})[v] || 0));
  const total = counts.reduce((a, n) => a + n, 0);
  if (!total) return 0;
  const mean = counts.reduce((a, n, i) => a + n * (i + 1), 0) / total;
  return Math.sqrt(counts.reduce((a, n, i) => a + n * (i + 1 - mean) ** 2, 0) / total);
}

// Every most frequent value of a histogram, lowest first ([] for an empty one), as
// StatsFunction's `modes` (talkrate.stats.most_frequent).
export function modesOf(ratings) {
  const counts = [1, 2, 3, 4, 5].map((v) => Number((ratings || {})[v] || 0));
  const most = Math.max(...counts);
  return most ? [1, 2, 3, 4, 5].filter((v) => counts[v - 1] === most) : [];
}

// The most frequent values in words, a tie named whole, each with `mark` ("4★ and 5★"): "4",
// "4 and 5", "3, 4 and 5"; "all alike" for all five (none stands out), "–" for none. `talkrate
// show` alike (output.modes_text).
export function modesText(modes, mark = "") {
  if (!modes.length) return "–";
  if (modes.length === 5) return "all alike";
  return listed(modes.map((v) => `${v}${mark}`));
}

// Median, most frequent values and standard deviation of a histogram, as StatsFunction defines
// them (talkrate.stats): the median of the sorted ratings (the mean of the middle two for an
// even count), every most frequent value (`mode` the lowest of them), the population deviation
// rounded to four places.
export function statsOf(ratings) {
  const counts = [1, 2, 3, 4, 5].map((v) => Number((ratings || {})[v] || 0));
  const totalCount = counts.reduce((a, n) => a + n, 0);
  if (!totalCount) return { totalCount: 0 };
  const mean = counts.reduce((a, n, i) => a + n * (i + 1), 0) / totalCount;
  const variance = counts.reduce((a, n, i) => a + n * (i + 1 - mean) ** 2, 0) / totalCount;
  const nth = (rank) => { // 0-based
    let seen = 0;
    for (let i = 0; i < 5; i += 1) {
      seen += counts[i];
      if (rank < seen) return i + 1;
    }
    return 5;
  };
  const middle = Math.floor(totalCount / 2);
  const median = totalCount % 2 ? nth(middle) : (nth(middle - 1) + nth(middle)) / 2;
  const modes = modesOf(ratings);
  return { totalCount, median, mode: modes[0], modes, stdDev: Math.round(Math.sqrt(variance) * 1e4) / 1e4 };
}
