package weights

import (
	"math"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// ScanData finds NaN and Inf in any float dtype, with counts, and passes
// finite tensors (issue 15: NaN/Inf weights loaded and gave NaN logits).
func TestScanDataFindsNonFinite(t *testing.T) {
	mk := func(dt ir.DType, vals ...float32) *runtime.Tensor {
		x := runtime.NewTensor(dt, len(vals))
		copy(x.F, vals)
		return x
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	dir := t.TempDir()
	err := WriteCheckpoint(dir, []NamedTensor{
		{"ok.f32", mk(ir.F32, 1, 2, 3)},
		{"ok.bf16", mk(ir.BF16, 1, -2, 0.5)},
		{"nan.f32", mk(ir.F32, 1, nan, nan, 4)},
		{"inf.bf16", mk(ir.BF16, -inf, 1, 1)},
		{"ok.big", mk(ir.F32, make([]float32, 3<<20)...)}, // more than one chunk
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last int64
	probs, err := c.ScanData(func(done, total int64) { last = done })
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range probs {
		if p.Kind != NotFinite {
			t.Errorf("problem kind %v", p.Kind)
		}
		got[p.Tensor] = p.Detail
	}
	if len(got) != 2 || !strings.HasPrefix(got["nan.f32"], "2 of 4 values") || !strings.Contains(got["nan.f32"], "flat index 1") ||
		!strings.HasPrefix(got["inf.bf16"], "1 of 3 values") {
		t.Errorf("problems: %v", got)
	}
	if last != c.Bytes() {
		t.Errorf("progress ended at %d of %d bytes", last, c.Bytes())
	}
}
