package dsl

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A long string literal is read in time and memory linear in its length.
// participle's unquote appended one character at a time to a string: a
// 1 MB literal copied half a terabyte and took minutes. The check counts
// bytes allocated, which does not depend on the machine's speed.
func TestLongStringLiteral(t *testing.T) {
	for _, n := range []int{1 << 20, 4 << 20} {
		body := strings.Repeat("ab\\\"é", n/6) // escapes and multi-byte runes
		src := "model m\nconfig {\n  s = \"" + body + "\"\n}\n"
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		f, err := Parse("long.deep", src)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		got := *f.Decls[0].Config.Entries[0].Value.Left.Left.Cmp.Left.Left.Left.Power.Base.Primary.String
		if want := strings.Repeat("ab\"é", n/6); got != want {
			t.Fatalf("%d-byte literal read wrong (%d bytes)", len(src), len(got))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(40*len(src)) {
			t.Errorf("%d-byte literal allocated %d bytes: not linear", len(src), alloc)
		}
		if took > 10*time.Second {
			t.Errorf("%d-byte literal took %v", len(src), took)
		}
	}
}

// unquoteToken reads escapes as participle's Unquote did.
func TestStringEscapes(t *testing.T) {
	f, err := Parse("s.deep", `model m
config {
  s = "tab\there \"q\" \\ \x41 \u00e9 \377"
}
`)
	if err != nil {
		t.Fatal(err)
	}
	got := *f.Decls[0].Config.Entries[0].Value.Left.Left.Cmp.Left.Left.Left.Power.Base.Primary.String
	if want := "tab\there \"q\" \\ A é ÿ"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Parse("s.deep", "model m\nconfig {\n  s = \"abc\\qdef\"\n}\n")
	if err == nil || !strings.HasPrefix(err.Error(), "s.deep:3:11: invalid escape sequence in string") {
		t.Errorf("want the bad escape's position, got %v", err)
	}
}

// An error on a long line or about a long token quotes a window of it.
func TestLongLineError(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	for _, src := range []string{
		"model m\nconfig { a = 1 + \"" + long + "\" }\n",                     // a type error: the caret at the string
		"model m\nconfig { a = " + long + " + 1 }\n",                         // an unknown name
		"model \"" + long + "\"\n",                                           // a parse error quoting the token
		"model m\nconfig { a = [" + strings.Repeat("1, ", 1<<18) + "] ! }\n", // a bad character far along
	} {
		_, err := CompileSource("long.deep", src, Options{})
		if err == nil {
			t.Fatal("compiled")
		}
		if len(err.Error()) > 3000 {
			t.Errorf("error is %d bytes: %.200s", len(err.Error()), err)
		}
	}
	_, err := CompileSource("long.deep", "model m\nconfig { a = ["+strings.Repeat("1, ", 300)+"] ! }\n", Options{})
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[1], "1, ] ! }") ||
		strings.Index(lines[2], "^") != utf8.RuneCountInString(lines[1][:strings.Index(lines[1], "!")]) {
		t.Errorf("caret not under the character:\n%s", err)
	}
}

// A file of many small tokens is refused past maxTokens, before the slow
// parser sees it.
func TestTooManyTokens(t *testing.T) {
	src := "model m\nconfig {\n" + strings.Repeat("x = 1\n", maxTokens/3+1) + "}\n"
	start := time.Now()
	_, err := CompileSource("many.deep", src, Options{})
	if err == nil || !strings.Contains(err.Error(), "more than 524288 tokens") {
		t.Fatalf("want the token limit, got %.300v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("took %v", took)
	}
}
