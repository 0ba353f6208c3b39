// What the pages write for a talk's speakers in every language tag Node's Intl knows, for
// scripts/list_patterns.py: node scripts/list_patterns.mjs <URL of a copy of web/js/dom.js>
//
// Each language code of two or three letters Intl takes, alone, with each region and each script
// it has a name for, and with a script and each region where that script has data of its own; for
// each tag, its canonical form (Intl.getCanonicalLocales, null where Intl refuses it) and the
// lists of two to six names dom.js's speakerParts writes. The names start with a Hebrew
// letter, so that Hebrew's "ו-" (written before a name in another script) is not taken for the
// pattern itself; Spanish's "e" (before "I…" or "Hi…") is not met either.
const { speakerParts } = await import(process.argv[2]);

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const NAMES = [0, 1, 2, 3, 4, 5].map((i) => `\u05d0${String.fromCharCode(0xe000 + i)}`);

const named = (type, codes) => {
  const names = new Intl.DisplayNames(["en"], { type, fallback: "none" });
  return codes.filter((code) => {
    try {
      return names.of(code) !== undefined;
    } catch {
      return false;
    }
  });
};
const pairs = [...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b));
const regions = named("region", [
  ...pairs.map((pair) => pair.toUpperCase()),
  ...Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0")),
]);
const scripts = named("script", pairs.flatMap((ab) => pairs.map((cd) => ab[0].toUpperCase() + ab[1] + cd)));

const format = (tag) => {
  try {
    return new Intl.ListFormat([tag, "en"], { type: "conjunction", style: "narrow" });
  } catch {
    return null;
  }
};
const canonical = (tag) => {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return null;
  }
};
// The languages Intl has a list of its own for (another than English's), and English.
const languages = pairs.flatMap((pair) => [pair, ...[...LETTERS].map((c) => pair + c)]).filter((code) => {
  const list = format(code);
  return list && (code === "en" || list.resolvedOptions().locale.split("-")[0] !== "en");
});
const tags = [];
for (const language of languages) {
  tags.push(language, ...regions.map((region) => `${language}-${region}`));
  for (const script of scripts) {
    tags.push(`${language}-${script}`);
    if (format(`${language}-${script}`)?.resolvedOptions().locale.includes(script)) {
      tags.push(...regions.map((region) => `${language}-${script}-${region}`));
    }
  }
}

const written = (tag, n) => speakerParts(NAMES.slice(0, n), tag).map((part) => part.value).join("");
const lists = [];
const listIndex = new Map();
const results = {};
for (const tag of tags) {
  const said = [2, 3, 4, 5, 6].map((n) => written(tag, n));
  const key = JSON.stringify(said);
  if (!listIndex.has(key)) {
    listIndex.set(key, lists.length);
    lists.push(said);
  }
  results[tag] = [canonical(tag), listIndex.get(key)];
}
// Unicode's Hebrew script, as ranges of code points: Hebrew's "ו-" is written before a name whose
// first character is of another script.
const hebrew = [];
for (let c = 0; c <= 0x10ffff; c++) {
  if (!/\p{Script=Hebrew}/u.test(String.fromCodePoint(c))) continue;
  const last = hebrew[hebrew.length - 1];
  if (last && last[1] === c - 1) last[1] = c;
  else hebrew.push([c, c]);
}
const versions = { node: process.version, icu: process.versions.icu, cldr: process.versions.cldr };
process.stdout.write(JSON.stringify({ versions, names: NAMES, lists, results, hebrew }));
