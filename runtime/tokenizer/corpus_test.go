package tokenizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode"
)

// The corpus the DeepSeek-V3 tokenizer is checked on lives in
// testdata/corpus.jsonl (one JSON string per line): the hand-written cases
// below, then generated ones. `go test -run TestCorpusFile -update` rewrites
// it; TestCorpusFile fails when the file and this code disagree.

var update = flag.Bool("update", false, "rewrite testdata/corpus.jsonl")

const corpusPath = "testdata/corpus.jsonl"

var handwritten = []string{
	// English prose
	"Hello world",
	"The quick brown fox jumps over the lazy dog.",
	"It's a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
	"Don't, won't, can't, I'm, you're, they've, we'll, she'd, it's, O'Brien's, rock'n'roll.",
	"DeepSeek-V3 is a Mixture-of-Experts (MoE) language model with 671B total parameters, of which 37B are activated for each token.",
	"E-mail me at someone@example.com or visit https://example.org/path?q=1&r=two#frag.",
	"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 42\r\n\r\n",
	"ALL CAPS SHOUTING and camelCaseIdentifiers and snake_case_names and kebab-case-names",
	"Mr. Smith paid $3.50 for 2½ apples (≈€3.20) — a bargain!",
	"He said: “Quoted text,” then ‘single quotes’ and «guillemets» followed.",
	// Chinese, Japanese, Korean
	"你好，世界！",
	"深度求索（DeepSeek）是一家专注于通用人工智能的公司。我们的模型在多个基准测试中表现优异。",
	"今天天气很好，我们去公园散步吧。2024年1月1日，气温是25摄氏度。",
	"龘龘靐齉齾爩鱻麤",
	"𠀀𠀁𪚥𰻞",
	"日本語のテキストです。ひらがなとカタカナと漢字が混ざっています。",
	"東京スカイツリーは634メートルです。コンピューターサイエンス！",
	"ｶﾀｶﾅ　半角カナ　全角ＡＢＣ　１２３",
	"안녕하세요, 세계! 한국어 텍스트입니다.",
	// Other scripts
	"Привет, мир! Съешь же ещё этих мягких французских булок.",
	"Γειά σου Κόσμε! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
	"مرحبا بالعالم! هذا نص عربي مع أرقام ١٢٣٤٥.",
	"שלום עולם! זהו טקסט בעברית.",
	"नमस्ते दुनिया! यह हिंदी पाठ है। १२३४५",
	"สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ",
	"Tiếng Việt có dấu: Xin chào thế giới, đây là văn bản.",
	"e\u0301 vs é, n\u0303, a\u030a\u0323, Z\u0351\u0352\u0353\u0354",
	// Mixed scripts
	"Mixed 中文 and English 和 日本語 with números 123 and emoji 🎉 together!",
	"变量name等于42，函数foo()返回bar。",
	"価格は¥1,280（税込）です。Price: $9.99",
	"α+β=γ, ∀x∈ℝ: x²≥0, ∑_{i=1}^{n} i = n(n+1)/2",
	// Code
	"package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n",
	"def fib(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(20)])\n",
	"class Foo:\n\tdef __init__(self, x):\n\t\tself.x = x  # tab-indented\n\n\tdef __repr__(self):\n\t\treturn f\"Foo({self.x!r})\"\n",
	"const add = (a, b) => a + b;\nexport default async function handler(req, res) {\n  const { id } = req.query;\n  res.status(200).json({ id, ok: true });\n}\n",
	"#include <stdio.h>\n\nint main(int argc, char **argv) {\n    printf(\"Hello, %s!\\n\", argc > 1 ? argv[1] : \"world\");\n    return 0;\n}\n",
	"fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n",
	"SELECT u.id, COUNT(*) AS n\nFROM users u\nJOIN orders o ON o.user_id = u.id\nWHERE o.created_at >= '2024-01-01'\nGROUP BY u.id\nHAVING COUNT(*) > 5;\n",
	"#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}'\ndone 2>/dev/null || echo \"fail\" >&2\n",
	"<!DOCTYPE html>\n<html lang=\"en\">\n  <head><title>Test &amp; demo</title></head>\n  <body><p class=\"x\">Hi</p></body>\n</html>\n",
	"{\"name\": \"deepc\", \"version\": \"0.1.0\", \"tags\": [\"a\", \"b\"], \"nested\": {\"k\": null, \"n\": -1.5e-10}}",
	"key: value\nlist:\n  - one\n  - two\nmap:\n  nested: true\n",
	"all:\n\t$(CC) -O2 -o $@ $^\n\nclean:\n\trm -f *.o\n",
	"\\begin{equation}\n  E = mc^2 \\quad \\text{and} \\quad \\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}\n\\end{equation}",
	"x+=1;y-=2;z*=3;w/=4;a%=5;b<<=6;c>>=7;d&&=e||f??g",
	"if (a !== b && c <= d || e >= f) { return !g; } // comment /* block */",
	"arr[i][j] = {{1, 2}, {3, 4}};  ptr->field; obj?.prop; ...spread",
	"    \t  mixed indentation\n\t    again\n",
	// Digits and numbers
	"1",
	"12",
	"123",
	"1234",
	"12345678901234567890",
	"3.14159265358979323846",
	"1,000,000 and 1.000.000 and 1 000 000",
	"0x1F 0b1010 0o777 1e10 6.02e23 -42 +7",
	"2024-06-01T12:34:56Z",
	"Phone: +1 (555) 123-4567",
	"v1.2.3-rc.4+build.567",
	"１２３４５ fullwidth and ٠١٢٣٤٥٦٧٨٩ Arabic-Indic and ०१२३ Devanagari",
	"²³¹ ½ ¼ ⅓ Ⅻ ⑳ 𝟘𝟙𝟚",
	"abc123def4567ghi",
	// Emoji
	"😀😃😄😁",
	"👍🏽 👋🏿 🧑🏻‍💻",
	"👨‍👩‍👧‍👦 family",
	"🏳️‍🌈 🏴‍☠️ ❤️ ☺️",
	"🇺🇸🇯🇵🇨🇳🇩🇪",
	"I ❤️ 🍕 and 🍣!!! 🎉🎉🎉",
	"keycap 1️⃣ 2️⃣ #️⃣",
	// Whitespace runs
	"",
	" ",
	"  ",
	"   ",
	"\t",
	"\t\t\t",
	"\n",
	"\n\n\n",
	"\r\n",
	"\r\n\r\n\r\n",
	" \n ",
	"a  b   c    d",
	"a\tb\t\tc",
	"word   \n   word",
	"trailing spaces   ",
	"   leading spaces",
	" \t \n \r\n mixed",
	"a\u00a0b\u2003c\u3000d\ufeffe",
	"line1\u2028line2\u2029line3\u0085line4",
	"\v\f vertical tab and form feed",
	"end with newline\n",
	"many    \n\n\n    blank lines\n\n",
	// Punctuation runs
	"!!!???...",
	"...",
	"—–-",
	"'''\"\"\"```",
	"--->  <===  <=>  =>  ::  ;;",
	"((()))[[[]]]{{{}}}",
	"@#$%^&*",
	"~~~~~~~~~~",
	"。。。！！！？？？",
	"「引用」『二重』【括弧】",
	"Wait...what?!",
	"a.b,c;d:e",
	",Hello .World !Foo",
	// Special and added tokens embedded in text
	"<｜begin▁of▁sentence｜>",
	"<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>",
	"<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>",
	"<｜User｜>Write code<｜Assistant｜><think>\nLet me think.\n</think>\n\n```python\nprint(1)\n```<｜end▁of▁sentence｜>",
	"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
	"<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temp\": 21}<｜tool▁output▁end｜><｜tool▁outputs▁end｜>",
	"<｜fim▁begin｜>def f():\n    <｜fim▁hole｜>\n    return x<｜fim▁end｜>",
	"<|EOT|>",
	"<｜▁pad▁｜><｜▁pad▁｜>",
	"<｜place▁holder▁no▁0｜><｜place▁holder▁no▁42｜><｜place▁holder▁no▁796｜>",
	"text <｜User｜> spaced <｜Assistant｜> out",
	"<<｜User｜>>",
	"<｜User｜<｜User｜>",
	"<｜begin▁of",
	"<｜User",
	"<｜end▁of▁sentence｜",
	"<|endoftext|> <s> </s> <pad> are not special here",
	"<｜begin▁of▁sentence｜><｜begin▁of▁sentence｜><｜end▁of▁sentence｜>",
}

// generated returns deterministic pseudo-random strings: characters drawn
// from many Unicode blocks, with words, digit runs, white space and added
// tokens mixed in.
func generated() []string {
	rng := rand.New(rand.NewPCG(3, 0xdeadbeef))
	blocks := []struct{ lo, hi rune }{
		{0x20, 0x7E},       // ASCII
		{0x20, 0x7E},       // ASCII again: more weight
		{0xA0, 0xFF},       // Latin-1 Supplement
		{0x100, 0x17F},     // Latin Extended-A
		{0x300, 0x36F},     // combining diacritics
		{0x370, 0x3FF},     // Greek
		{0x400, 0x4FF},     // Cyrillic
		{0x5D0, 0x5EA},     // Hebrew
		{0x600, 0x6FF},     // Arabic
		{0x900, 0x97F},     // Devanagari
		{0xE01, 0xE5B},     // Thai
		{0x2000, 0x206F},   // general punctuation
		{0x20A0, 0x20C0},   // currency
		{0x2100, 0x214F},   // letterlike
		{0x2150, 0x218B},   // number forms
		{0x2190, 0x21FF},   // arrows
		{0x2200, 0x22FF},   // math
		{0x2460, 0x24FF},   // enclosed alphanumerics
		{0x2500, 0x257F},   // box drawing
		{0x2600, 0x26FF},   // misc symbols
		{0x3000, 0x303F},   // CJK punctuation
		{0x3040, 0x309F},   // Hiragana
		{0x30A0, 0x30FF},   // Katakana
		{0x4E00, 0x9FA5},   // CJK, the pre-tokenizer's range
		{0x4E00, 0x9FA5},   // CJK again
		{0x9FA6, 0x9FEF},   // CJK beyond that range
		{0xAC00, 0xD7A3},   // Hangul
		{0xFF01, 0xFF5E},   // fullwidth forms
		{0xFF61, 0xFF9F},   // halfwidth katakana
		{0x1D400, 0x1D7FF}, // math alphanumerics
		{0x1F300, 0x1F5FF}, // pictographs
		{0x1F600, 0x1F64F}, // emoticons
		{0x1F680, 0x1F6FF}, // transport
		{0x1F900, 0x1F9FF}, // supplemental symbols
		{0x20000, 0x2A6D6}, // CJK extension B
	}
	words := []string{"the", " of", "and", " to", "in", " is", "DeepSeek", "模型", "テスト", "ok", "x", "_id", "self", "return"}
	spaces := []string{" ", "  ", "\t", "\n", "\r\n", "\n\n", "   ", " \t", "\u00a0", "\u3000", "\u2028", "\u0085", "\ufeff"}
	specials := []string{"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜tool▁sep｜>", "<|EOT|>", "<｜place▁holder▁no▁7｜>", "<｜"}
	extra := []rune{0x200D, 0xFE0F, 0x1F3FB, 0x1F3FF, 0x1F1E6, 0x1F1FA, 0x20E3, 0x0, 0x1, 0x1B, 0x7F, 0xE000, 0xFFFD, 0xFF10, 0x660}

	randRune := func() rune {
		for {
			var r rune
			if rng.IntN(10) == 0 {
				r = extra[rng.IntN(len(extra))]
			} else {
				b := blocks[rng.IntN(len(blocks))]
				r = b.lo + rune(rng.IntN(int(b.hi-b.lo+1)))
			}
			// Only code points that Go's Unicode tables assign (or the
			// extras): the JavaScript side may know a newer Unicode.
			if r < 0x20 || r == 0x7F || r == 0x85 || unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cf, unicode.Co) {
				return r
			}
		}
	}
	var out []string
	for i := 0; i < 400; i++ {
		var sb strings.Builder
		n := 1 + rng.IntN(40)
		if i%50 == 0 {
			n = 200 + rng.IntN(300)
		}
		for j := 0; j < n; j++ {
			switch k := rng.IntN(20); {
			case k < 12:
				sb.WriteRune(randRune())
			case k < 14:
				sb.WriteString(words[rng.IntN(len(words))])
			case k < 16:
				sb.WriteString(spaces[rng.IntN(len(spaces))])
			case k < 18:
				for d := rng.IntN(12); d >= 0; d-- {
					sb.WriteByte(byte('0' + rng.IntN(10)))
				}
			case k < 19:
				sb.WriteString(specials[rng.IntN(len(specials))])
			default:
				r := randRune()
				for d := rng.IntN(8); d >= 0; d-- {
					sb.WriteRune(r)
				}
			}
		}
		out = append(out, sb.String())
	}
	return out
}

func corpusLines() []string {
	return append(append([]string{}, handwritten...), generated()...)
}

func encodeCorpus(lines []string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

func TestCorpusFile(t *testing.T) {
	want := encodeCorpus(corpusLines())
	if *update {
		if err := os.WriteFile(corpusPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./runtime/tokenizer -run TestCorpusFile -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; run: go test ./runtime/tokenizer -run TestCorpusFile -update", corpusPath)
	}
}

// readCorpus returns the committed corpus.
func readCorpus(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var s string
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("%s:%d: %v", corpusPath, i+1, err)
		}
		lines = append(lines, s)
	}
	return lines
}
