package main

import (
	"testing"

	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/sdk/plugintest"
)

func TestPasses(t *testing.T) { plugintest.Run(t, Plugin, "testdata/*.ir") }

// The composite computes what its decomposition computed, with the same
// ops in the same order: the tiny model's logits must not move at all,
// with the pass alone and inside the CPU's inference pipeline (where
// moe-lower rebuilds the experts' swiglu on dispatched rows).
func TestKeepsLogits(t *testing.T) {
	for _, pipeline := range []string{"swiglu-fuse", passes.InferencePipeline} {
		if e := plugintest.Numerics(t, Plugin, pipeline, nil, "deepseek_v3_tiny.deep"); e != 0 {
			t.Errorf("%s: logits' relative difference %.3g, want 0", pipeline, e)
		}
	}
}
