package ir_test

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

func mustParse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse("test.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const chain = `module @m {
  func @f(%x: [4] f32) -> ([4] f32, [4] f32) {
    %0 = neg %x : [4] f32
    %1 = abs %0 : [4] f32
    %2 = add %0, %1 : [4] f32
    return %2, %0
  }
}
`

// useCount counts uses the slow way, to check the editor's lists against.
func useCount(f *ir.Func, v *ir.Value) int { return f.Uses()[v] }

func TestEditorUseListsFollowEdits(t *testing.T) {
	m := mustParse(t, chain)
	f := m.Funcs[0]
	ed := ir.NewEditor(f)
	neg, abs := f.Body[0], f.Body[1]
	check := func(when string) {
		t.Helper()
		for _, op := range ed.Ops() {
			for _, v := range append(op.Args, op.Results...) {
				if got, want := len(ed.Uses(v)), useCount(&ir.Func{Body: ed.Ops(), Results: f.Results}, v); got != want {
					t.Errorf("%s: %d uses of a value of %s listed, %d real", when, got, op.Name, want)
				}
			}
		}
	}
	check("start")
	if users, result := ed.Users(neg.Result()); len(users) != 2 || !result {
		t.Errorf("users of %%0: %d ops, result %v; want 2 ops and a result", len(users), result)
	}
	// Insert sqrt(x) after neg, point abs at it, and replace neg everywhere by x.
	sq := ed.After(neg).Op(ir.OpSqrt, []*ir.Value{f.Args[0]}, nil)
	ed.SetArg(abs, 0, sq)
	check("after SetArg")
	if n := ed.ReplaceAllUses(neg.Result(), f.Args[0]); n != 2 {
		t.Errorf("ReplaceAllUses replaced %d uses, want 2 (add's operand and the result)", n)
	}
	ed.Erase(neg)
	check("after erase")
	if err := ed.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m); err != nil {
		t.Fatalf("%v\n%s", err, ir.Print(m))
	}
	got := ir.Print(m)
	for _, want := range []string{"%0 = sqrt %x", "%1 = abs %0", "%2 = add %x, %1", "return %2, %x"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// Erasing an op whose result is still used is caught at Commit, and the
// body is left as it was.
func TestEditorCommitRefusesDanglingUses(t *testing.T) {
	m := mustParse(t, chain)
	f := m.Funcs[0]
	before := ir.Print(m)
	ed := ir.NewEditor(f)
	ed.Erase(f.Body[0])
	err := ed.Commit()
	if err == nil || !strings.Contains(err.Error(), "neg at") || !strings.Contains(err.Error(), "still uses its result") {
		t.Fatalf("got %v", err)
	}
	if after := ir.Print(m); after != before {
		t.Errorf("a failed commit changed the function:\n%s", after)
	}
}

// Ops erased together (a def and all its users) commit cleanly.
func TestEditorEraseChain(t *testing.T) {
	m := mustParse(t, `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    %1 = abs %0 : [4] f32
    return %x
  }
}
`)
	f := m.Funcs[0]
	ed := ir.NewEditor(f)
	ed.Erase(f.Body[0]) // its user goes next
	ed.Erase(f.Body[1])
	if err := ed.Commit(); err != nil || len(f.Body) != 0 {
		t.Fatalf("err %v, %d ops left", err, len(f.Body))
	}
}

// Before keeps the order ops are built in, and After too.
func TestEditorInsertionOrder(t *testing.T) {
	m := mustParse(t, chain)
	f := m.Funcs[0]
	ed := ir.NewEditor(f)
	b := ed.Before(f.Body[1])
	b.Op(ir.OpExp, []*ir.Value{f.Args[0]}, nil)
	b.Op(ir.OpSqrt, []*ir.Value{f.Args[0]}, nil)
	a := ed.After(f.Body[1])
	a.Op(ir.OpLog, []*ir.Value{f.Args[0]}, nil)
	a.Op(ir.OpSign, []*ir.Value{f.Args[0]}, nil)
	if b.Err() != nil || a.Err() != nil {
		t.Fatal(b.Err(), a.Err())
	}
	if err := ed.Commit(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, op := range f.Body {
		names = append(names, op.Name)
	}
	if got, want := strings.Join(names, " "), "neg exp sqrt abs log sign add"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
}

// The builder's sticky error: the first failure is kept, later ops are
// not built.
func TestBuilderStickyError(t *testing.T) {
	m := mustParse(t, chain)
	f := m.Funcs[0]
	ed := ir.NewEditor(f)
	b := ed.Before(f.Body[0])
	bad := b.Reshape(f.Args[0], ir.C(3)) // 4 elements cannot become 3
	b.Op(ir.OpNeg, []*ir.Value{f.Args[0]}, nil)
	if b.Err() == nil || !strings.Contains(b.Err().Error(), "reshape") || bad != nil {
		t.Fatalf("err %v, value %v", b.Err(), bad)
	}
	if err := ed.Commit(); err != nil || len(f.Body) != 3 {
		t.Errorf("err %v, %d ops; want the 3 ops unchanged", err, len(f.Body))
	}
}
