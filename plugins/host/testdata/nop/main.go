// Command nop is a test fixture: a pass that changes nothing, so that
// what a call costs is the transport (the round-trip benchmark).
package main

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "nop", Version: "0.0.1", Passes: []sdk.Pass{{
		Name: "nop",
		Run:  func(*ir.Module, sdk.Options) error { return nil },
	}}})
}
