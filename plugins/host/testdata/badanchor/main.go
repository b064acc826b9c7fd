// Command badanchor is a test fixture: a Go plugin whose manifest the SDK
// refuses (an anchor that is neither after: nor before:), so it exits
// before its handshake.
package main

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "badanchor", Version: "0.0.1", Passes: []sdk.Pass{{
		Name:   "badanchor",
		Anchor: "sideways:dce",
		Run:    func(*ir.Module, sdk.Options) error { return nil },
	}}})
}
