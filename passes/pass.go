package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// Pass is one named transformation or analysis of a module.
type Pass interface {
	// Name is the pass's name in pipeline strings: lower case, digits, '-'.
	Name() string
	// Description is one line for `deepc opt --list-passes`.
	Description() string
	// Run transforms m in place and reports whether it changed anything.
	Run(ctx *Context, m *ir.Module) (changed bool, err error)
}

// Requirer is implemented by passes that need other passes to have run
// earlier in the same pipeline (an analysis they read from the Context, or a
// normal form they assume).
type Requirer interface {
	Requires() []string
}

// requires lists what p requires, if anything.
func requires(p Pass) []string {
	if r, ok := p.(Requirer); ok {
		return r.Requires()
	}
	return nil
}

// RunFunc is a pass body.
type RunFunc func(ctx *Context, m *ir.Module) (changed bool, err error)

// NewPass makes a Pass from a function, for passes that need no state of
// their own.
func NewPass(name, description string, run RunFunc, requires ...string) Pass {
	return &funcPass{name: name, desc: description, run: run, requires: requires}
}

type funcPass struct {
	name, desc string
	run        RunFunc
	requires   []string
	opts       []Option
}

func (p *funcPass) Name() string                                 { return p.name }
func (p *funcPass) Description() string                          { return p.desc }
func (p *funcPass) Requires() []string                           { return p.requires }
func (p *funcPass) Run(ctx *Context, m *ir.Module) (bool, error) { return p.run(ctx, m) }

// PerFunc turns a function-level body into a RunFunc that visits every
// function of the module in order and reports a change if any function changed.
func PerFunc(body func(ctx *Context, f *ir.Func) (changed bool, err error)) RunFunc {
	return func(ctx *Context, m *ir.Module) (bool, error) {
		changed := false
		for _, f := range m.Funcs {
			c, err := body(ctx, f)
			if err != nil {
				return changed, fmt.Errorf("func @%s: %w", f.Name, err)
			}
			changed = changed || c
		}
		return changed, nil
	}
}
