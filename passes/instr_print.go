package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// passSet selects passes by name; an empty set selects all of them, and so
// does the name "all".
type passSet map[string]bool

func newPassSet(names []string) passSet {
	s := passSet{}
	for _, n := range names {
		s[n] = true
	}
	return s
}

func (s passSet) has(name string) bool { return len(s) == 0 || s["all"] || s[name] }

// PrintBefore prints the module to ctx.Out before each named pass (every
// pass when no names are given).
func PrintBefore(names ...string) Instrument { return &printBefore{set: newPassSet(names)} }

// PrintAfter prints the module to ctx.Out after each named pass (every pass
// when no names are given).
func PrintAfter(names ...string) Instrument { return &printAfter{set: newPassSet(names)} }

// PrintAfterChange is PrintAfter for passes that changed the module, by
// their own report or because the printed IR differs; it notes a pass that
// changed the IR while reporting no change.
func PrintAfterChange(names ...string) Instrument {
	return &printAfterChange{set: newPassSet(names)}
}

type printBefore struct {
	nopInstrument
	set passSet
}

func (pr *printBefore) BeforePass(ctx *Context, p Pass, m *ir.Module) error {
	if pr.set.has(p.Name()) {
		dump(ctx, "Before "+p.Name(), "", m)
	}
	return nil
}

type printAfter struct {
	nopInstrument
	set passSet
}

func (pr *printAfter) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if pr.set.has(p.Name()) {
		dump(ctx, "After "+p.Name(), failedNote(r), m)
	}
	return nil
}

type printAfterChange struct {
	set    passSet
	before string
}

func (pr *printAfterChange) BeforePass(ctx *Context, p Pass, m *ir.Module) error {
	if pr.set.has(p.Name()) {
		pr.before = ctx.Printed(m)
	}
	return nil
}

func (pr *printAfterChange) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if !pr.set.has(p.Name()) {
		return nil
	}
	differs := ctx.Printed(m) != pr.before
	note := failedNote(r)
	if differs && !r.Changed {
		note += " (the pass reported no change)"
	}
	if differs || r.Changed {
		dump(ctx, "After "+p.Name(), note, m)
	}
	return nil
}

func failedNote(r Result) string {
	if r.Err != nil {
		return " (failed)"
	}
	return ""
}

// dump writes one MLIR-style banner and the module.
func dump(ctx *Context, what, note string, m *ir.Module) {
	fmt.Fprintf(ctx.Writer(), "// -----// IR Dump %s (%d/%d)%s //----- //\n%s\n",
		what, ctx.step, ctx.pipeline.Len(), note, ctx.Printed(m))
}
