package ir

import "testing"

func TestFuncClone(t *testing.T) {
	m := &Module{Name: "m"}
	b := m.NewFunc("forward")
	x := b.Arg("x", T(F32, S("T"), C(4)))
	y, err := b.Emit1("split", []*Value{x}, Attrs{"axis": int64(-1), "sizes": []int64{2, 2}})
	if err == nil {
		t.Fatal("Emit1 on a two-result op should fail")
	}
	_ = y
	z, err := b.Emit1("exp", []*Value{x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Return(z)
	g := f0(m).Clone("copy")
	m.Funcs = append(m.Funcs, g)
	if err := Verify(m); err != nil {
		t.Fatal(err)
	}
	if PrintFunc(g) != PrintFunc(f0(m))[:len("  func @")]+"copy"+PrintFunc(f0(m))[len("  func @forward"):] {
		t.Errorf("clone prints differently:\n%s", PrintFunc(g))
	}
	g.Body[0].Attrs = Attrs{"changed": true}
	if f0(m).Body[0].Attrs != nil {
		t.Error("clone shares attributes with the original")
	}
	if g.Args[0] == f0(m).Args[0] || g.Results[0] == f0(m).Results[0] {
		t.Error("clone shares values with the original")
	}
}

func f0(m *Module) *Func { return m.Funcs[0] }
