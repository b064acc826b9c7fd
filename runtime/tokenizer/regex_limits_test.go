package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
)

// within runs fn and fails the test if it has not returned after d, so that
// a regression to exponential backtracking fails instead of hanging.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still running after %v", what, d)
	}
}

// Patterns that backtrack super-linearly run out of their step budget, with
// an error naming the pattern, in milliseconds rather than years.
func TestBacktrackBudget(t *testing.T) {
	for _, c := range []struct{ pattern, text string }{
		{`(?:a+)+b`, strings.Repeat("a", 40)},
		{`(?:a+)+b`, strings.Repeat("a", 10000)},
		{`(a|a)+b`, strings.Repeat("a", 40)},
		{`(?:a+a+)+b`, "x" + strings.Repeat("a", 100)},
		{`(?=(?:a+)+b)a`, strings.Repeat("a", 40)},          // inside a lookahead
		{`\s*\s*\s*\s*x`, strings.Repeat(" ", 10000) + "y"}, // polynomial: r⁴ per attempt
	} {
		name := fmt.Sprintf("%s on %d bytes", c.pattern, len(c.text))
		re, err := compileRegex(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var got error
		within(t, 3*time.Second, name, func() {
			var st []frame
			got = re.findAll(c.text, &st, func(int, int) {})
		})
		var be *BacktrackError
		if !errors.As(got, &be) || be.Pattern != c.pattern {
			t.Errorf("%s: error %v, want a *BacktrackError", name, got)
			continue
		}
		if msg := got.Error(); !strings.Contains(msg, fmt.Sprintf("%q", c.pattern)) || !strings.Contains(msg, "too much backtracking") {
			t.Errorf("%s: message %q", name, msg)
		}
	}
	// A long pattern is named cut short.
	long := `(?:a+)+b|` + strings.Repeat("x", 500)
	err := (&BacktrackError{Pattern: long}).Error()
	if strings.Contains(err, strings.Repeat("x", 100)) || !strings.Contains(err, `(?:a+)+b|xxx`) {
		t.Errorf("a long pattern in the message: %q", err)
	}
}

// The budget is ample for the real patterns: at every start position of
// every corpus line (and of long runs that make them backtrack), each
// pattern of the tests uses at most an eighth of it. The budget's comment
// (regex_limits.go) quotes the measure.
func TestStepBudgetHeadroom(t *testing.T) {
	texts := append(readCorpus(t),
		strings.Repeat(" ", 1000)+"x", strings.Repeat(" ", 1000)+"€", strings.Repeat("\n ", 500),
		strings.Repeat("a", 1000), strings.Repeat("1", 1000), strings.Repeat("'s ", 300), strings.Repeat("!?", 500))
	var st []frame
	for _, p := range differentialPatterns {
		re := mustCompileRegex(p)
		worst := 0.0
		for _, text := range texts {
			for pos := 0; pos <= len(text); pos++ {
				if pos < len(text) && text[pos]&0xC0 == 0x80 {
					continue // inside a code point
				}
				const lots = 1 << 50
				steps := lots
				re.exec(0, text, pos, &st, &steps)
				used := float64(lots - steps)
				worst = max(worst, used/float64(re.stepBudget(text, pos)))
			}
		}
		if worst > 1.0/8 {
			t.Errorf("%q uses %.3f of its step budget on the corpus, want at most 1/8", p, worst)
		}
	}
}

// The Split stage carries the error up to EncodeErr; Encode gives ids that
// still decode to the text, the rest of the piece left unsplit.
func TestEncodeErrBacktrack(t *testing.T) {
	split := func(behavior string, invert bool) func(f map[string]any) {
		return preTok(map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?:a+)+b`}, "behavior": behavior, "invert": invert})
	}
	replace := func(f map[string]any) {
		f["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `(?:a+)+b`}, "content": "X"}
	}
	for _, c := range []struct {
		name string
		mod  func(f map[string]any)
	}{
		{"Split Isolated", split("Isolated", false)},
		{"Split Removed invert", split("Removed", true)},
		{"Split MergedWithNext", split("MergedWithNext", false)},
		{"Replace", replace},
	} {
		h := tiny(t, c.mod)
		for _, n := range []int{40, 10000} {
			text := "ab " + strings.Repeat("a", n) + "<bos>" + strings.Repeat("a", n)
			name := fmt.Sprintf("%s, %d a's", c.name, n)
			within(t, 5*time.Second, name, func() {
				var tok Tokenizer = h
				ids, err := tok.EncodeErr(text)
				var be *BacktrackError
				if !errors.As(err, &be) || !strings.Contains(err.Error(), "(?:a+)+b") {
					t.Errorf("%s: EncodeErr error %v, want a *BacktrackError", name, err)
				}
				plain := tok.Encode(text)
				if fmt.Sprint(plain) != fmt.Sprint(ids) {
					t.Errorf("%s: Encode and EncodeErr give different ids", name)
				}
				want := text
				if c.name == "Replace" {
					want = "X " + text[3:] // the match before the trouble is replaced
				}
				if got, err := h.Decode(ids, DecodeOptions{}); err != nil || got != want {
					t.Errorf("%s: Decode(Encode(text)) = %.40q…, %v; want %.40q…", name, got, err, want)
				}
			})
		}
	}
	// A pattern that needs no backtracking gives no error.
	h := tiny(t, nil)
	if _, err := h.EncodeErr("hello world " + strings.Repeat("a", 10000)); err != nil {
		t.Errorf("GPT-2's pattern: %v", err)
	}
}

// Compiling a pattern is bounded too: its nesting, its program and its
// classes, the latter two over all the patterns of a tokenizer.
func TestPatternLimits(t *testing.T) {
	for _, c := range []struct {
		name, pattern, want string
	}{
		{"nesting", strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), "nested more than 100 deep"},
		{"program", `(?:(?:ab){1000}){1000}`, "more than 65536 instructions"},
		{"classes", strings.Repeat("a", 3000), "more than 2048 character classes"},
		{"class items", "[" + strings.Repeat(`\d`, 3000) + "]", "more than 2048 character classes"},
		{"classes of a fold", `(?i:` + strings.Repeat("a", 1500) + `)`, "more than 2048 character classes"},
		{"unions", nestedAlternation(90), "more than 2048 character classes"},
		{"source", strings.Repeat("(?:)", 20000), "longer than 65536 bytes"},
	} {
		within(t, 5*time.Second, c.name, func() {
			_, err := compileRegex(c.pattern)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
			}
		})
	}
	// The quota is the tokenizer's: three patterns of 1000 classes each
	// are refused together, and so is a String pattern of 3000 characters.
	split := func(p map[string]any) map[string]any {
		return map[string]any{"type": "Split", "pattern": p, "behavior": "Isolated"}
	}
	thousand := map[string]any{"Regex": strings.Repeat("b", 1000)}
	for _, mod := range []func(f map[string]any){
		preTok(split(thousand), split(thousand), split(thousand)),
		preTok(split(map[string]any{"String": strings.Repeat("s", 3000)})),
	} {
		_, err := ParseHF(tinyFile(t, mod))
		if err == nil || !strings.Contains(err.Error(), "more than 2048 character classes") {
			t.Errorf("patterns over the tokenizer's quota: error %v", err)
		}
	}
}

// nestedAlternation returns (?:(?:(?:x?y|a)|a)|a)... with depth groups:
// few classes, but the first set of the branch at depth k unites k+2 of
// them.
func nestedAlternation(depth int) string {
	p := "x?y"
	for i := 0; i < depth; i++ {
		p = "(?:" + p + "|a)"
	}
	return p
}

// Sequences are bounded in depth and length.
func TestSequenceLimits(t *testing.T) {
	nest := func(key string, leaf map[string]any, depth int) map[string]any {
		c := leaf
		for i := 0; i < depth; i++ {
			c = map[string]any{"type": "Sequence", key: []any{c}}
		}
		return c
	}
	many := func(key string, leaf map[string]any, n int) map[string]any {
		var list []any
		for i := 0; i < n; i++ {
			list = append(list, leaf)
		}
		return map[string]any{"type": "Sequence", key: list}
	}
	byteLevel := map[string]any{"type": "ByteLevel", "use_regex": false}
	lower := map[string]any{"type": "Lowercase"}
	digits := map[string]any{"type": "Digits"}
	for _, c := range []struct {
		name string
		mod  func(f map[string]any)
		want string
	}{
		{"deep pre_tokenizer", func(f map[string]any) { f["pre_tokenizer"] = nest("pretokenizers", byteLevel, 9) }, "nested more than 8 deep"},
		{"deep normalizer", func(f map[string]any) { f["normalizer"] = nest("normalizers", lower, 9) }, "nested more than 8 deep"},
		{"long pre_tokenizer", func(f map[string]any) {
			seq := many("pretokenizers", digits, 65)
			seq["pretokenizers"] = append(seq["pretokenizers"].([]any), byteLevel)
			f["pre_tokenizer"] = seq
		}, "more than 64 pre-tokenizers"},
		{"long normalizer", func(f map[string]any) { f["normalizer"] = many("normalizers", lower, 65) }, "more than 64 normalizers"},
	} {
		_, err := ParseHF(tinyFile(t, c.mod))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// At the limits, they load.
	for _, mod := range []func(f map[string]any){
		func(f map[string]any) { f["pre_tokenizer"] = nest("pretokenizers", byteLevel, 8) },
		func(f map[string]any) { f["normalizer"] = many("normalizers", lower, 64) },
	} {
		if _, err := ParseHF(tinyFile(t, mod)); err != nil {
			t.Errorf("at the limit: %v", err)
		}
	}
}

// Classes are built a word or a range at a time, and predicates' bitmaps
// once per process; the bitmaps are those of testing every code point.
func TestClassBitmaps(t *testing.T) {
	brute := func(member func(r rune) bool) []uint64 {
		b := make([]uint64, bmpWords)
		for r := rune(0); r < bmpLimit; r++ {
			if member(r) {
				b[r>>6] |= 1 << (r & 63)
			}
		}
		return b
	}
	for _, p := range []string{
		`\d`, `\D`, `\w`, `\W`, `\s`, `\S`, `.`, `\p{Cn}`, `\p{Assigned}`, `\p{LC}`, `\P{LC}`, `\p{L}`, `\p{Lu}`,
		`\p{Han}`, `\p{White_Space}`, `[a-z\d_-]`, `[^\p{L}\p{N}\s]`, `[\x00-\u{1FFFF}]`, `[\u{3f}-\u{40}\u{7e}-\u{81}]`,
		`[\u{10000}-\u{2FFFF}]`, `\p{Any}`, `(?i:k)`, `(?i:[a-z\p{Greek}])`, `(?i:[^\p{Ll}])`, `(?i:\p{LC})`,
	} {
		re := mustCompileRegex(p)
		cls := re.first
		if cls == nil {
			t.Fatalf("%s: no first set", p)
		}
		want := brute(func(r rune) bool {
			if cls.fold == nil {
				return cls.slow(r) // the items, one code point at a time
			}
			for g := r; ; {
				if cls.fold.has(g) {
					return true
				}
				if g = unicode.SimpleFold(g); g == r {
					return false
				}
			}
		})
		for w := range want {
			if cls.bmp[w] != want[w] {
				t.Errorf("%s: bitmap word %#x = %#x, want %#x", p, w*64, cls.bmp[w], want[w])
				break
			}
		}
	}
}

// A predicate named many times costs its pass over the code points once.
func TestCostlyClasses(t *testing.T) {
	for _, p := range []string{strings.Repeat(`\p{Cn}`, 1000), strings.Repeat(`\P{Assigned}`, 1000), `(?i:` + strings.Repeat(`\p{L}`, 600) + `)`} {
		within(t, 5*time.Second, p[:12], func() {
			if _, err := compileRegex(p); err != nil {
				t.Error(err)
			}
		})
	}
}
