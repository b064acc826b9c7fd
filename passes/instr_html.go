package passes

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// HTML records one function of the module before the first pass and
// after every pass, for a page that shows the stages side by side
// (WritePage). It is an instrument so that passes know nothing of it.
//
// The printer numbers op results by position, so %7 in one stage may be
// %5 in the next once a pass removes an op. Values are therefore told
// apart by identity (the *ir.Value, which passes edit in place), not by
// their printed names: that is what lets a click find a value's uses in
// every stage, and what keeps a renumbered but otherwise untouched line
// from being marked as changed.
func HTML(funcName string) *HTMLView { return &HTMLView{funcName: funcName, ids: map[*ir.Value]int{}} }

// HTMLView is the instrument HTML returns.
type HTMLView struct {
	nopInstrument
	funcName string // "" until BeforePipeline when the first function is meant
	module   string
	pipeline string
	ids      map[*ir.Value]int // stable value numbers, from 1
	stages   []htmlStage
}

// htmlStage is the function as one pass left it.
type htmlStage struct {
	title   string // the pass's name, or "input"
	step    int
	failed  bool
	missing bool // the function is not in the module at this stage
	added   int  // lines not in the previous stage
	removed int  // lines of the previous stage not in this one
	lines   []htmlLine
}

type htmlLine struct {
	segs    []htmlSeg
	key     string // the text with values by identity: what the diff compares
	changed bool
}

// htmlSeg is a run of plain text, or one value's printed name.
type htmlSeg struct {
	text  string
	value int // 0 for plain text
	def   bool
}

// Stages is how many stages have been recorded: the input and one per
// pass that ran.
func (h *HTMLView) Stages() int { return len(h.stages) }

// Func is the function shown, once the input has been seen.
func (h *HTMLView) Func() string { return h.funcName }

func (h *HTMLView) BeforePipeline(ctx *Context, m *ir.Module) error {
	if len(m.Funcs) == 0 {
		return fmt.Errorf("html: the module has no function to show")
	}
	if h.funcName == "" {
		h.funcName = m.Funcs[0].Name
	}
	if m.Func(h.funcName) == nil {
		var names []string
		for _, f := range m.Funcs {
			names = append(names, "@"+f.Name)
		}
		return fmt.Errorf("html: no function @%s in module @%s; it has %s", h.funcName, m.Name, strings.Join(names, ", "))
	}
	h.module = m.Name
	h.pipeline = ctx.Pipeline().String()
	h.record(htmlStage{title: "input"}, m)
	return nil
}

func (h *HTMLView) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if len(h.stages) == 0 {
		return nil // BeforePipeline refused the module
	}
	h.record(htmlStage{title: p.Name(), step: ctx.Step(), failed: r.Err != nil}, m)
	return nil
}

func (h *HTMLView) AfterPipeline(*Context, *ir.Module, error) error { return nil }

// record snapshots the function now, since the next pass edits it in
// place, and marks what differs from the stage before.
func (h *HTMLView) record(s htmlStage, m *ir.Module) {
	f := m.Func(h.funcName)
	if f == nil {
		s.missing = true
	} else {
		s.lines = h.lines(f)
	}
	if n := len(h.stages); n > 0 {
		s.added, s.removed = markChanged(h.stages[n-1].lines, s.lines)
	}
	h.stages = append(h.stages, s)
}

// markChanged marks the lines of cur that prev does not have, as a
// multiset of keys so that a repeated line is matched once; it returns
// how many lines were marked and how many of prev found no match.
func markChanged(prev, cur []htmlLine) (added, removed int) {
	left := map[string]int{}
	for _, l := range prev {
		left[l.key]++
	}
	for i := range cur {
		if left[cur[i].key] > 0 {
			left[cur[i].key]--
			continue
		}
		cur[i].changed = true
		added++
	}
	for _, n := range left {
		removed += n
	}
	return added, removed
}

// lines splits the printed function into lines of text and values. A
// value's first appearance is its definition: the printer writes
// arguments in the header and every result before its uses.
func (h *HTMLView) lines(f *ir.Func) []htmlLine {
	byName := map[string]*ir.Value{}
	for v, name := range ir.ValueNames(f) {
		byName[name] = v
	}
	seen := map[*ir.Value]bool{}
	var out []htmlLine
	for _, text := range strings.Split(strings.TrimSuffix(ir.PrintFunc(f), "\n"), "\n") {
		var l htmlLine
		var key strings.Builder
		for _, seg := range splitValues(text) {
			v := byName[seg.text]
			if seg.value == 0 || v == nil {
				seg.value = 0 // plain text, or a name the function does not define
				key.WriteString(seg.text)
				l.segs = append(l.segs, seg)
				continue
			}
			seg.value = h.id(v)
			seg.def = !seen[v]
			seen[v] = true
			// A NUL cannot occur in printed IR, so the id cannot be
			// mistaken for text.
			fmt.Fprintf(&key, "\x00%d\x00", seg.value)
			l.segs = append(l.segs, seg)
		}
		l.key = key.String()
		out = append(out, l)
	}
	return out
}

func (h *HTMLView) id(v *ir.Value) int {
	if n, ok := h.ids[v]; ok {
		return n
	}
	n := len(h.ids) + 1
	h.ids[v] = n
	return n
}

// splitValues cuts a printed line into plain text and %name tokens (value
// -1 marks a token, to be resolved by the caller). Quoted strings are
// plain text whole: a "%" inside an attribute or a location's file name
// is no value.
func splitValues(line string) []htmlSeg {
	var segs []htmlSeg
	start := 0
	flush := func(end int) {
		if end > start {
			segs = append(segs, htmlSeg{text: line[start:end]})
		}
		start = end
	}
	for i := 0; i < len(line); {
		switch line[i] {
		case '"':
			i = skipQuoted(line, i)
		case '%':
			j := i + 1
			for j < len(line) && ir.IsNameByte(line[j]) {
				j++
			}
			if j == i+1 {
				i++
				continue
			}
			flush(i)
			segs = append(segs, htmlSeg{text: line[i:j], value: -1})
			start, i = j, j
		default:
			i++
		}
	}
	flush(len(line))
	return segs
}

// skipQuoted returns the index just past the string that opens at i, or
// the end of the line if it does not close.
func skipQuoted(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}
