package passes

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// A pointwise composite is planned as one op, so its whole decomposition
// lands in one region, which expand-composites carries over to the inlined
// ops; a composite with a reduction is inlined before planning, its ops
// planned one by one.
func TestCompositesAndKernelRegions(t *testing.T) {
	m := parse(t, `module @m {

  composite @gate_pk_test(%g: [T, F] f32, %u: [T, F] f32) -> ([T, F] f32) {
    %0 = silu %g : [T, F] f32
    %1 = mul %0, %u : [T, F] f32
    return %1
  }

  composite @rowsum_pk_test(%x: [T, F] f32) -> ([T] f32) {
    %0 = exp %x : [T, F] f32
    %1 = sum %0 {axis = 1} : [T] f32
    return %1
  }

  func @f(%x: [T, 8] f32, %w: [8, 8] f32) -> ([T, 8] f32, [T] f32) {
    %0 = linear %x, %w : [T, 8] f32
    %1 = gate_pk_test %0, %x : [T, 8] f32
    %2 = rowsum_pk_test %x : [T] f32
    return %1, %2
  }
}
`)
	pl, err := ParsePipeline("plan-kernels,expand-composites")
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(&Context{}, m, pl); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	region := map[string]int64{}
	for _, op := range m.Funcs[0].Body {
		if op.Def().IsComposite() {
			t.Errorf("%s is still a composite after expand-composites", op.Name)
		}
		k, ok := op.Attrs.Int(KernelAttr)
		if !ok {
			t.Errorf("%s has no kernel region", op.Name)
		}
		region[op.Name] = k
	}
	// linear takes the gate as its epilogue: linear, silu and mul in one
	// GEMM region; exp and the row sum are planned on their own.
	if region["silu"] != region["linear"] || region["mul"] != region["linear"] {
		t.Errorf("the gate's ops are not in the linear's region: %v\n%s", region, ir.Print(m))
	}
	if region["sum"] == region["linear"] {
		t.Errorf("the row sum joined the GEMM region: %v", region)
	}
	if got := ir.Print(m); strings.Contains(got, "composite @") {
		t.Errorf("the module still declares composites:\n%s", got)
	}
}
