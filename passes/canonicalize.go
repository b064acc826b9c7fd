package passes

import "github.com/deepc-dev/deepc/ir"

func init() {
	Register(NewPass("canonicalize", "fold constants, drop no-op shape ops and algebraic identities (rules to a fixed point)", canonicalize))
}

// canonicalize applies canonRules (canon_rules.go) with ir's greedy driver.
// Every rule makes the function strictly simpler, so the driver's bound on
// rewrites is only reached by rules that undo each other.
func canonicalize(_ *Context, m *ir.Module) (bool, error) { return canonRules.ApplyModule(m) }
