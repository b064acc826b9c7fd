package plugintest

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

// counter reports how many ops it saw; its options are typed.
var counter = sdk.Plugin{Name: "counter", Version: "0", Passes: []sdk.Pass{{
	Name:   "count-ops",
	Anchor: "after:canonicalize",
	Options: []sdk.Option{
		{Name: "mode", Type: sdk.Enum, Values: []string{"all", "none"}, Default: "all"},
		{Name: "limit", Type: sdk.Int, Default: "10"},
	},
	Run: func(m *ir.Module, opts sdk.Options) error {
		opts.Printf("count-ops: mode %s limit %s\n", opts.String("mode"), opts.String("limit"))
		return nil
	},
}}}

const small = "module @m {\n  func @f(%x: [4] f32) -> ([4] f32) {\n    %0 = neg %x : [4] f32\n    return %0\n  }\n}\n"

// plugintest runs passes as deepc does: anchored passes join the
// pipeline, and options are checked against their declarations first.
func TestApplyAsDeepcDoes(t *testing.T) {
	_, report, err := Apply(counter, "canonicalize", map[string]string{"count-ops.limit": "3"}, "m.ir", small)
	if err != nil || !strings.Contains(report, "count-ops: mode all limit 3") {
		t.Errorf("the anchored pass did not run with its option: %q, %v", report, err)
	}
	for opt, want := range map[string]string{
		"count-ops.mode=some":  "not one of all, none",
		"count-ops.limit=2.5":  "limit",
		"count-ops.nokey=1":    "nokey",
		"nopass.k=1":           "nopass",
		"count-ops.limit":      "want PASS.key=value",
		"canonicalize.limit=1": "canonicalize",
	} {
		k, v, _ := strings.Cut(opt, "=")
		opts := map[string]string{k: v}
		if !strings.Contains(opt, "=") {
			_, _, err = apply(counter, "canonicalize", []string{opt}, "m.ir", small)
		} else {
			_, _, err = Apply(counter, "canonicalize", opts, "m.ir", small)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error mentioning %q", opt, err, want)
		}
	}
}

// A misspelt anchor is an error here as under deepc, not a pass silently
// left out.
func TestApplyRefusesUnknownAnchor(t *testing.T) {
	p := counter
	p.Passes = []sdk.Pass{counter.Passes[0]}
	p.Passes[0].Anchor = "after:canonicalise"
	_, _, err := Apply(p, "canonicalize", nil, "m.ir", small)
	if err == nil || !strings.Contains(err.Error(), "anchor after:canonicalise names no pass (did you mean after:canonicalize?)") {
		t.Errorf("got %v", err)
	}
}
