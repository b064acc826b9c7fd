// Command misanchored is a test fixture: a plugin whose pass is anchored
// to a misspelt pass, canonicalise.
package main

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "misanchored", Version: "0.0.1", Passes: []sdk.Pass{{
		Name:   "misanchored-pass",
		Anchor: "after:canonicalise",
		Run:    func(*ir.Module, sdk.Options) error { return nil },
	}}})
}
