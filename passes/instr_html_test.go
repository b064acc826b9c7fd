package passes

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"
)

// htmlModule has a common subexpression (%2, for cse) and a dead op (%3,
// for dce) before the op that uses them, so both passes renumber the
// lines after it; names and attributes need escaping.
const htmlModule = `module @"m<i>&" {
  param @"w<u>&%1" : [4, 4] bf16

  func @forward(%x: [T, 4] bf16) -> ([T, 4] bf16) {
    %0 = param {name = "w<u>&%1"} : [4, 4] bf16
    %1 = linear %x, %0 : [T, 4] bf16
    %2 = linear %x, %0 : [T, 4] bf16
    %3 = silu %x : [T, 4] bf16
    %4 = add %1, %2 : [T, 4] bf16
    %5 = silu %4 : [T, 4] bf16
    return %5
  }

  func @other(%y: [T, 4] bf16) -> ([T, 4] bf16) {
    return %y
  }
}
`

// htmlColumn is one column of the page as a reader sees it.
type htmlColumn struct {
	header string
	lines  []string // text, unescaped
	marked []bool   // line highlighted as changed
}

var (
	columnRE = regexp.MustCompile(`<div class="col[^"]*">\s*<h2[^>]*>(.*?)</h2>`)
	lineRE   = regexp.MustCompile(`<div class="line( changed)?">(.*?)</div>`)
	tagRE    = regexp.MustCompile(`<[^>]*>`)
)

func htmlText(s string) string { return html.UnescapeString(tagRE.ReplaceAllString(s, "")) }

func columns(page string) []htmlColumn {
	var cols []htmlColumn
	heads := columnRE.FindAllStringSubmatchIndex(page, -1)
	for i, h := range heads {
		end := len(page)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		c := htmlColumn{header: htmlText(page[h[2]:h[3]])}
		for _, l := range lineRE.FindAllStringSubmatch(page[h[1]:end], -1) {
			c.lines = append(c.lines, htmlText(l[2]))
			c.marked = append(c.marked, l[1] != "")
		}
		cols = append(cols, c)
	}
	return cols
}

func htmlPage(t *testing.T, fn, pipe string) (string, error) {
	t.Helper()
	view := HTML(fn)
	ctx := &Context{Instruments: []Instrument{view}}
	if err := Run(ctx, parse(t, htmlModule), pipeline(t, Default, pipe)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := view.WritePage(&b); err != nil {
		t.Fatal(err)
	}
	return b.String(), nil
}

// find returns the index of the line of c that contains s.
func (c htmlColumn) find(t *testing.T, s string) int {
	t.Helper()
	for i, l := range c.lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	t.Fatalf("column %q has no line with %q:\n%s", c.header, s, strings.Join(c.lines, "\n"))
	return -1
}

func TestHTMLColumnsAndChanges(t *testing.T) {
	page, err := htmlPage(t, "", "cse,dce,cse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page, HTMLMarker) {
		t.Errorf("the page does not begin with the marker:\n%.200s", page)
	}
	cols := columns(page)
	var heads []string
	for _, c := range cols {
		heads = append(heads, c.header)
	}
	want := []string{"input", "1 cse · +1 −2 lines", "2 dce · +0 −1 lines", "3 cse · no change"}
	if strings.Join(heads, "|") != strings.Join(want, "|") {
		t.Fatalf("columns %q, want %q", heads, want)
	}
	for i, c := range cols {
		if n := len(c.lines); n != []int{9, 8, 7, 7}[i] {
			t.Errorf("column %q has %d lines:\n%s", c.header, n, strings.Join(c.lines, "\n"))
		}
	}
	for _, c := range cols {
		if strings.Contains(strings.Join(c.lines, "\n"), "@other") {
			t.Errorf("column %q shows @other, not only the first function", c.header)
		}
	}
	marked := func(col int, text string) bool { return cols[col].marked[cols[col].find(t, text)] }
	for _, tc := range []struct {
		col  int
		line string
		want bool
	}{
		{0, "= add %1, %2", false}, // nothing to compare the input with
		// cse points add at %1: the one line it rewrote.
		{1, "= add %1, %1", true},
		{1, "%1 = linear %x, %0", false},
		// cse removes %2 = linear: the dead silu is renumbered, not changed.
		{1, "%2 = silu %x", false},
		// dce removes it, so add and the last silu are renumbered but
		// otherwise untouched, as is return.
		{2, "%2 = add %1, %1", false},
		{2, "%3 = silu %2", false},
		{2, "return %3", false},
	} {
		if got := marked(tc.col, tc.line); got != tc.want {
			t.Errorf("column %q, line %q: marked changed = %v, want %v", cols[tc.col].header, tc.line, got, tc.want)
		}
	}
}

// Every appearance of a value carries the same data-v in every column,
// whatever the printer calls it there; its first one is its definition.
func TestHTMLValuesAreLinked(t *testing.T) {
	page, err := htmlPage(t, "", "cse,dce")
	if err != nil {
		t.Fatal(err)
	}
	spanRE := regexp.MustCompile(`<span class="v( def)?" data-v="(\d+)">([^<]*)</span>`)
	names := map[string]map[string]bool{} // data-v -> printed names
	defs := map[string]int{}
	for _, m := range spanRE.FindAllStringSubmatch(page, -1) {
		if names[m[2]] == nil {
			names[m[2]] = map[string]bool{}
		}
		names[m[2]][m[3]] = true
		if m[1] != "" {
			defs[m[2]]++
		}
	}
	// The last silu is %5 in the input, %4 after cse, %3 after dce.
	var silu string
	for id, ns := range names {
		if ns["%5"] && ns["%4"] && ns["%3"] {
			silu = id
		}
	}
	if silu == "" {
		t.Fatalf("no value is %%5, %%4 and %%3 in turn: %v", names)
	}
	if got := len(regexp.MustCompile(`data-v="`+silu+`"`).FindAllString(page, -1)); got != 6 {
		t.Errorf("the last silu appears %d times, want 6 (defined and returned in 3 columns)", got)
	}
	if defs[silu] != 3 {
		t.Errorf("the last silu is a definition %d times, want once a column", defs[silu])
	}
	for id, ns := range names {
		if ns["%x"] && len(ns) > 1 {
			t.Errorf("data-v=%s names %%x and other values: %v", id, ns)
		}
	}
	// A "%1" inside a quoted name is text, not a value.
	if strings.Contains(page, `&amp;<span`) {
		t.Error("a % inside a quoted string was linked as a value")
	}
}

func TestHTMLEscapes(t *testing.T) {
	page, err := htmlPage(t, "", "cse")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<u>", "<i>", `"w<`} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	if !strings.Contains(page, `{name = &#34;w&lt;u&gt;&amp;%1&#34;}`) {
		t.Errorf("the param's name is not in the page, escaped")
	}
}

func TestHTMLFuncChoice(t *testing.T) {
	page, err := htmlPage(t, "other", "cse")
	if err != nil {
		t.Fatal(err)
	}
	cols := columns(page)
	if len(cols) != 2 || cols[1].find(t, "func @other(") != 0 {
		t.Errorf("--html-func other: columns %v", cols)
	}
	_, err = htmlPage(t, "nosuch", "cse")
	if err == nil || !strings.Contains(err.Error(), "no function @nosuch") || !strings.Contains(err.Error(), "@forward, @other") {
		t.Errorf("an unknown function: error %v, want one naming it and listing @forward, @other", err)
	}
}

// The pass that failed gets its column, marked: it is the one to look at.
func TestHTMLFailedPass(t *testing.T) {
	view := HTML("")
	if _, err := runWith(t, "noop,fail", view); err == nil {
		t.Fatal("the pipeline did not fail")
	}
	var b bytes.Buffer
	if err := view.WritePage(&b); err != nil {
		t.Fatal(err)
	}
	cols := columns(b.String())
	if len(cols) != 3 || cols[2].header != "2 fail · no change, failed" || !strings.Contains(b.String(), `<div class="col failed">`) {
		t.Errorf("columns %v, want the third marked failed", cols)
	}
}
