// Prints the matches of regular expressions the way the JavaScript tokenizer
// finds them (new RegExp(pattern, "gu") and String.prototype.matchAll), for
// comparison with runtime/tokenizer's regex engine.
//
// Usage: node regex.mjs CASES.json, where CASES.json is
// {"patterns": [...], "texts": [...]}; prints one JSON array per pattern and
// text (patterns outer, texts inner) holding the matched substrings.
import { readFileSync } from "node:fs";

const { patterns, texts } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const p of patterns) {
  const re = new RegExp(p, "gu");
  for (const t of texts) {
    out.push(JSON.stringify(Array.from(t.matchAll(re), (m) => m[0])));
  }
}
process.stdout.write(out.join("\n") + "\n");
