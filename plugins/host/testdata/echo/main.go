// Command echo is a test fixture: a plugin whose pass (after
// canonicalize) reports the options it received, logs a line to stderr
// while succeeding, and on request renames a param (so that a checkpoint
// no longer fits) or panics.
package main

import (
	"fmt"
	"log"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "echo", Version: "0.0.1", Passes: []sdk.Pass{{
		Name:   "echo",
		Anchor: "after:canonicalize",
		Options: []sdk.Option{
			{Name: "level", Type: sdk.Enum, Values: []string{"low", "high"}, Default: "low"},
			// stats has a seq-len too: a bare seq-len=N is ambiguous.
			{Name: "seq-len", Type: sdk.Int, Default: "8"},
			{Name: "rename", Description: "a param to rename"},
			{Name: "panic", Type: sdk.Bool, Default: "false"},
			{Name: "grow", Type: sdk.Int, Default: "0", Description: "params to add (an answer far bigger than what was sent)"},
		},
		Run: echo,
	}}})
}

func echo(m *ir.Module, opts sdk.Options) error {
	log.Printf("echo fixture: running over %d params", len(m.Params))
	if p, _ := opts.Bool("panic"); p {
		explode()
	}
	// moe-block is moe-lower's: a pass must not see it.
	opts.Printf("echo: level=%s seq-len=%s moe-block=%q\n", opts.String("level"), opts.String("seq-len"), opts.String("moe-block"))
	if old := opts.String("rename"); old != "" {
		rename(m, old, old+".renamed")
	}
	n, _ := opts.Int("grow")
	for i := range n {
		m.Params = append(m.Params, &ir.Param{Name: fmt.Sprintf("grown.%d", i), Type: ir.T(ir.F32, ir.C(4))})
	}
	return nil
}

func explode() {
	var m map[string]int
	m["echo"]++ // a nil map: a runtime panic
}

// rename renames param old and every read of it.
func rename(m *ir.Module, old, name string) {
	for _, p := range m.Params {
		if p.Name == old {
			p.Name = name
		}
	}
	for _, f := range m.Funcs {
		for _, op := range f.Body {
			if n, ok := op.Attrs.Str("name"); ok && op.Name == "param" && n == old {
				op.Attrs["name"] = name
			}
		}
	}
}
