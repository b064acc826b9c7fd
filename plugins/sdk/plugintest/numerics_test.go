package plugintest

import (
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

const tinyModel = "../../../models/deepseek_v3_tiny.deep"

// testPlugin's passes: one that changes nothing, one that changes every
// RMSNorm's epsilon (so every norm's output, and the logits).
var testPlugin = sdk.Plugin{Name: "numerics-test", Version: "0.0.0", Passes: []sdk.Pass{
	{Name: "nothing", Description: "leaves the module as it is", Run: func(*ir.Module, sdk.Options) error { return nil }},
	{Name: "big-eps", Description: "sets every rms_norm's eps to 1", Run: func(m *ir.Module, _ sdk.Options) error {
		for _, f := range m.Funcs {
			for _, op := range f.Body {
				if op.Is(ir.OpRMSNorm) {
					op.Attrs["eps"] = 1.0
				}
			}
		}
		return nil
	}},
}}

// The same module on the same weights and tokens gives the same logits,
// bit for bit; a pass that changes the arithmetic is seen.
func TestNumerics(t *testing.T) {
	if e := Numerics(t, testPlugin, "nothing", nil, tinyModel); e != 0 {
		t.Errorf("a pass that changes nothing: relative difference %.3g, want 0", e)
	}
	if e := Numerics(t, testPlugin, "big-eps", nil, tinyModel); e < 1e-2 {
		t.Errorf("eps 1e-6 → 1 in every norm: relative difference %.3g, want above 1e-2", e)
	}
}
