package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func matches(t testing.TB, re *regex, text string) []string {
	t.Helper()
	var st []frame
	out := []string{}
	if err := re.findAll(text, &st, func(s, e int) { out = append(out, text[s:e]) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// Patterns that tokenizer.json files declare, and constructs they use.
var differentialPatterns = []string{
	// DeepSeek-V3
	`\p{N}{1,3}`,
	"[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
	// GPT-2 (ByteLevel use_regex)
	gpt2Pattern,
	// Llama 3 and Qwen 2, with (?i:...) written out as the JavaScript port does
	`(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	// Engine constructs
	`\s`, `\S+`, `\d+`, `\w+`, `\W`, `.`, `.+?x`, `a*?b`, `(a|ab)(c|bcd)`, `\bis\b`, `\B\w`,
	`^\s+|\s+$`, `x*`, `(?=\p{Lu})\p{L}`, `\p{L}(?!\p{L})`, `[^\p{L}\p{N}\s]`, `\P{L}+`,
	`\p{Script=Han}+`, `\p{sc=Hiragana}|\p{Script=Katakana}`, `\p{Lu}\p{Ll}*`, `[\p{Sm}\p{Sc}]`,
	`\p{Zs}`, `[a-z\d_-]+`, `[\u0041-\u005A]{2,}`, `\u{1F600}`, `\x41|\t|\n`,
	`(?:ab|a)(?:bc|c)?`, `[\s\S]{1,4}`, `\p{N}{2}`, `\p{N}{2,}`, `[^\n]*\n?`,
}

// The engine finds what ECMAScript's RegExp (with the u flag) finds, on the
// whole corpus.
func TestRegexMatchesJavaScript(t *testing.T) {
	texts := readCorpus(t)
	cases := map[string]any{"patterns": differentialPatterns, "texts": texts}
	data, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lines := runNode(t, "testdata/regex.mjs", path)
	if len(lines) != len(differentialPatterns)*len(texts) {
		t.Fatalf("node printed %d lines, want %d", len(lines), len(differentialPatterns)*len(texts))
	}
	failures := 0
	for i, p := range differentialPatterns {
		re, err := compileRegex(p)
		if err != nil {
			t.Errorf("compile %q: %v", p, err)
			continue
		}
		for j, text := range texts {
			var want []string
			if err := json.Unmarshal([]byte(lines[i*len(texts)+j]), &want); err != nil {
				t.Fatal(err)
			}
			if got := matches(t, re, text); !slices.Equal(got, want) {
				failures++
				if failures <= 10 {
					t.Errorf("pattern %q on %q:\n  go: %q\n  js: %q", p, text, got, want)
				}
			}
		}
	}
	if failures > 0 {
		t.Fatalf("%d pattern-text pairs differ", failures)
	}
}

// Cases that need no node: constructs ECMAScript lacks or that are easy to
// get wrong.
func TestRegex(t *testing.T) {
	for _, c := range []struct {
		pattern, text string
		want          []string
	}{
		{`(?i:'s|'t|'re)`, "it'S you'Re 'T", []string{"'S", "'Re", "'T"}},
		{`(?i:k)`, "kK\u212A", []string{"k", "K", "\u212A"}}, // the Kelvin sign folds to k
		{`a++a`, "aaaa", []string{}},                         // possessive: gives nothing back
		{`(?:ab)++b`, "ababb", []string{"ababb"}},
		{`(?>a+)b`, "aab", []string{"aab"}},
		{`\s+(?!\S)|\s+`, "a   b  ", []string{"  ", " ", "  "}},
		{`\p{N}{1,3}`, "1234567", []string{"123", "456", "7"}},
		{`x?`, "axb", []string{"", "x", "", ""}},
		{`[\b]`, "a\bb", []string{"\b"}},
		{`\u0041\u{42}\x43`, "ABC", []string{"ABC"}},
		{`\ud83d\ude00`, "😀", []string{"😀"}},
		{`\#\&\~`, "#&~", []string{"#&~"}},
		{`a{2}|b{,}`, "aaab{,}", []string{"aa", "b{,}"}},
		{`\p{Cn}`, "a\u0378b", []string{"\u0378"}},
		{`.`, "\xff", []string{"\xff"}}, // invalid UTF-8 is one code point, U+FFFD
		{`^a|b$`, "aab", []string{"a", "b"}},
	} {
		re, err := compileRegex(c.pattern)
		if err != nil {
			t.Errorf("compile %q: %v", c.pattern, err)
			continue
		}
		if got := matches(t, re, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%q on %q = %q, want %q", c.pattern, c.text, got, c.want)
		}
	}
}

func TestRegexErrors(t *testing.T) {
	for _, c := range []struct{ pattern, err string }{
		{`(?<=a)b`, "lookbehind"},
		{`(a)\1`, "back-references"},
		{`(a*)*`, "empty string"},
		{`(a|)+`, "empty string"},
		{`*a`, "nothing to repeat"},
		{`a**`, "nothing to repeat"},
		{`(?=a)*`, "nothing to repeat"},
		{`(ab`, "missing ')'"},
		{`ab)`, "unmatched ')'"},
		{`[ab`, "missing ']'"},
		{`[z-a]`, "out of order"},
		{`a{3,2}`, "out of order"},
		{`a{1001}`, "over 1000"},
		{`\p{Nope}`, "unknown property"},
		{`\p{Script=Nope}`, "unknown script"},
		{`\q`, "unknown escape"},
		{`a\`, "trailing backslash"},
		{`(?x)a`, "unsupported group"},
	} {
		_, err := compileRegex(c.pattern)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("compile %q: error %v, want one containing %q", c.pattern, err, c.err)
		}
	}
}
