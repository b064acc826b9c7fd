// Command crash is a test fixture: a plugin whose pass kills the process
// (an unrecovered panic on another goroutine) in the middle of a call.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() {
	sdk.Serve(sdk.Plugin{Name: "crash", Version: "0.0.1", Passes: []sdk.Pass{{
		Name:   "crash-pass",
		Anchor: "after:canonicalize",
		Run: func(*ir.Module, sdk.Options) error {
			fmt.Fprintln(os.Stderr, "crash fixture: about to crash")
			go func() { panic("crash fixture: deliberate crash") }()
			time.Sleep(time.Minute)
			return nil
		},
	}}})
}
