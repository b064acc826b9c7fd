// Command hang is a test fixture: a plugin whose pass never returns.
package main

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "hang", Version: "0.0.1", Passes: []sdk.Pass{{
		Name: "hang-pass",
		Run: func(*ir.Module, sdk.Options) error {
			select {}
		},
	}}})
}
