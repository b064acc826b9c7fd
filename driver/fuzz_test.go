package driver

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzTrainSettings feeds arbitrary JSON as the settings a resume state
// carries (what --resume continues with; issue 15). Whatever the input:
// no panic, and settings that pass Check give a finite, non-negative
// learning rate at every step and a batch that fits its bound.
func FuzzTrainSettings(f *testing.F) {
	good, _ := json.Marshal(TrainSettings{Steps: 10, Batch: 2, Seq: 8, LR: 1e-3, MinLR: 1e-4, Warmup: 2, Schedule: "cosine", Precision: "fp32",
		EvalBatch: 1, Hyper: Presets["small"].Hyper})
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s TrainSettings
		if json.Unmarshal(data, &s) != nil || s.Check() != nil {
			return
		}
		if int64(s.Batch)*int64(s.Seq) > 1<<24 {
			t.Fatalf("batch %d × seq %d passed Check", s.Batch, s.Seq)
		}
		for n := 1; n <= min(s.Steps, 64); n++ {
			if lr := s.LRAt(n); math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
				t.Fatalf("step %d: learning rate %v from settings that passed Check: %s", n, lr, data)
			}
		}
	})
}
