package passes

import (
	"errors"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

const smallModule = `module @m {
  param @w : [4, 4] bf16

  func @forward(%x: [T, 4] bf16) -> ([T, 4] bf16) {
    %0 = param {name = "w"} : [4, 4] bf16
    %1 = linear %x, %0 : [T, 4] bf16
    return %1
  }
}
`

func parse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse("test.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Passes for manager tests; they live in a test registry, not in Default.
var (
	noopPass = NewPass("noop", "does nothing", func(*Context, *ir.Module) (bool, error) { return false, nil })
	// renamePass changes the module (its name) and says so.
	renamePass = NewPass("rename", "appends _x to the module name", func(_ *Context, m *ir.Module) (bool, error) {
		m.Name += "_x"
		return true, nil
	})
	// liarPass changes the module and says it did not.
	liarPass = NewPass("liar", "renames the module, reports no change", func(_ *Context, m *ir.Module) (bool, error) {
		m.Name += "_y"
		return false, nil
	})
	panicPass = NewPass("panic", "panics", func(*Context, *ir.Module) (bool, error) { panic("boom") })
	failPass  = NewPass("fail", "fails", func(*Context, *ir.Module) (bool, error) { return false, errors.New("no luck") })
	// breakPass gives the linear a wrong result type.
	breakPass = NewPass("break-ir", "makes the IR invalid", func(_ *Context, m *ir.Module) (bool, error) {
		m.Funcs[0].Body[1].Results[0].Type.DType = ir.F32
		return true, nil
	})
)

// testRegistry holds the test passes and one ordering constraint.
func testRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry(Order{"noop", "rename"})
	for _, p := range []Pass{noopPass, renamePass, liarPass, panicPass, failPass, breakPass} {
		if err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func pipeline(t *testing.T, r *Registry, s string) Pipeline {
	t.Helper()
	pl, err := r.ParsePipeline(s)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}
