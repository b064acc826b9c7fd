package dsl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// nest writes open, n times, then inner, then close, n times.
func nest(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// deepSources are models nested n deep in every way the grammar recurses.
// At 100,000 the recursive parser ran past Go's 1 GB stack: "fatal error:
// stack overflow", which no recover catches.
func deepSources(n int) map[string]string {
	cfg := func(e string) string { return "model m\nconfig {\n  x = " + e + "\n}\n" }
	body := func(stmts string) string {
		return "model m\nexport block f(x: [T, 4] f32) {\n" + stmts + "\n  return x\n}\n"
	}
	return map[string]string{
		"parens":       cfg(nest("(", "1", ")", n)),
		"minus":        cfg(nest("-", "1", "", n)),
		"minus-paren":  cfg(nest("-(", "1", ")", n)),
		"not":          cfg(nest("not ", "true", "", n)),
		"power":        cfg(nest("2 ** ", "1", "", n)),
		"lists":        cfg(nest("[", "1", "]", n)),
		"structs":      cfg(nest("{a = ", "1", "}", n)),
		"calls":        cfg(nest("max(", "1", ")", n)),
		"call-args":    cfg(nest("min(1, ", "1", ")", n)),
		"if-blocks":    body(nest("if true {\n", "x = x", "}\n", n)),
		"else-if":      body("if false {}" + strings.Repeat(" else if false {}", n)),
		"else-if-cond": body("if x == 1 {}" + strings.Repeat(" else if x == 1 {}", n)),
		"top-if":       "model m\n" + nest("if true {\n", "", "}\n", n),
		"param-attrs":  body("param w: [4] f32 {init = " + nest("(", "1", ")", n) + "}"),
	}
}

func TestDeepNestingIsAnError(t *testing.T) {
	for name, src := range deepSources(100_000) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := CompileSource("deep.deep", src, Options{})
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %v", took)
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, "nested more than 200 levels deep") {
				t.Fatalf("want a nesting error, got %v", err)
			}
			if e.File != "deep.deep" || e.Line < 1 || e.Col < 1 {
				t.Errorf("error not positioned: %+v", e)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error text is %d bytes", len(err.Error()))
			}
		})
	}
}

// The same shapes just inside the limit compile, or fail for a reason
// other than their nesting: the limit is on depth, not on these forms.
func TestNestingWithinLimit(t *testing.T) {
	for name, src := range deepSources(60) {
		_, err := CompileSource("ok.deep", src, Options{})
		if err != nil && strings.Contains(err.Error(), "nested more than") {
			t.Errorf("%s: refused at depth 60: %v", name, err)
		}
	}
	_, err := CompileSource("ok.deep", "model m\nconfig {\n x = "+nest("(", "1", ")", 199)+"\n}\n", Options{})
	if err != nil {
		t.Errorf("199 parentheses: %v", err)
	}
}

// A --set value is parsed with the same limit.
func TestDeepSetValue(t *testing.T) {
	_, err := CompileSource("m.deep", "model m\nconfig {\n  x = 1\n}\n", Options{Sets: []string{"x=" + nest("(", "1", ")", 100_000)}})
	if err == nil || !strings.Contains(err.Error(), "nested more than 200 levels deep") || !strings.HasPrefix(err.Error(), "--set x=") {
		t.Fatalf("want a nesting error for --set, got %v", err)
	}
}

// The evaluator recurses over the AST once per call level: the deepest
// expression the parser allows at every one of maxCallDepth inlined calls
// must not exhaust the stack either.
func TestDeepestEvaluation(t *testing.T) {
	expr := nest("(", "f(n - 1)", ")", 150)
	src := fmt.Sprintf("model m\nblock f(n: int) {\n  if n == 0 {\n    return 0\n  }\n  return %s\n}\nassert f(%d) == 0, \"f\"\n", expr, maxCallDepth-1)
	if _, err := CompileSource("m.deep", src, Options{}); err != nil {
		t.Fatal(err)
	}
	src = fmt.Sprintf("model m\nblock f(n: int) {\n  return %s\n}\nassert f(1) == 0, \"f\"\n", expr)
	_, err := CompileSource("m.deep", src, Options{})
	if err == nil || !strings.Contains(err.Error(), "calls nest deeper than 200") {
		t.Fatalf("want the call depth limit, got %v", err)
	}
}

// Values can nest without brackets, one level per loop iteration; where
// they are printed or become IR attributes that depth is bounded too.
func TestDeepValues(t *testing.T) {
	src := `model m
export block f(x: [T, 4] f32) {
  s = {a = 1}
  for i in 0..100000 {
    s = {a = s}
  }
  param w: [4] f32 {init = s, ckpt = "w"}
  return x
}
`
	_, err := CompileSource("m.deep", src, Options{})
	if err == nil || !strings.Contains(err.Error(), "nested more than 200 levels deep") {
		t.Fatalf("want a nesting error for the init struct, got %v", err)
	}
	src = `model m
export block f(x: [T, 4] f32) {
  l = [1]
  for i in 0..100000 {
    l = [l, l]
  }
  return x + l
}
`
	_, err = CompileSource("m.deep", src, Options{})
	if err == nil || len(err.Error()) > 2000 {
		t.Fatalf("want a short error printing the nested list, got %d bytes: %.300v", len(err.Error()), err)
	}
}
