package main

import (
	"testing"

	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/sdk/plugintest"
)

func TestPasses(t *testing.T) { plugintest.Run(t, Plugin, "testdata/*.ir") }

// Folding a norm's weight into its linears is exact in real arithmetic:
// the tiny model's logits must stay equal within f32 rounding, with the
// pass alone and where deepc places it in the CPU's inference pipeline.
func TestKeepsLogits(t *testing.T) {
	for _, pipeline := range []string{"fold-norm-weight", passes.InferencePipeline} {
		if e := plugintest.Numerics(t, Plugin, pipeline, nil, "deepseek_v3_tiny.deep"); e > 1e-5 {
			t.Errorf("%s: logits' relative difference %.3g, want at most 1e-5", pipeline, e)
		}
	}
}
