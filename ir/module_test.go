package ir

import "testing"

func TestUsesAndReplaceAllUses(t *testing.T) {
	m := &Module{Name: "m", Params: []*Param{{Name: "w", Type: T(F32, C(4))}}}
	b := m.NewFunc("f")
	x := b.Arg("x", T(F32, C(4)))
	a, _ := b.Emit1("neg", []*Value{x}, nil)
	s, _ := b.Emit1("add", []*Value{a, a}, nil)
	b.Return(s, a)
	u := b.F.Uses()
	if u[x] != 1 || u[a] != 3 || u[s] != 1 {
		t.Errorf("Uses = x:%d a:%d s:%d, want 1 3 1", u[x], u[a], u[s])
	}
	ed := NewEditor(b.F)
	ed.ReplaceAllUses(a, x)
	if err := ed.Commit(); err != nil {
		t.Fatal(err)
	}
	u = b.F.Uses()
	if u[a] != 0 || u[x] != 4 {
		t.Errorf("after ReplaceAllUses: a:%d x:%d, want 0 4", u[a], u[x])
	}
	if err := Verify(m); err != nil {
		t.Error(err)
	}
	if m.Param("w") == nil || m.Param("v") != nil || m.Func("f") != b.F || m.Func("g") != nil {
		t.Error("Param/Func lookups are wrong")
	}
	if a.Def.Def() != Lookup("neg") || a.Def.Result() != a {
		t.Error("Op.Def/Result are wrong")
	}
	if got := PrintFunc(b.F); got == "" || got[:9] != "  func @f" {
		t.Errorf("PrintFunc = %q", got)
	}
	if (Loc{}).String() != "<unknown>" || (Loc{File: "a.deep", Line: 1, Col: 2}).String() != "a.deep:1:2" {
		t.Error("Loc.String is wrong")
	}
}
