package sdk

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

const module = "module @m {\n\n  func @f(%x: [4] f32) -> ([4] f32) {\n    return %x\n  }\n}\n"

func noop(*ir.Module, Options) error { return nil }

func TestCheck(t *testing.T) {
	ok := Pass{Name: "p", Run: noop}
	for _, c := range []struct {
		p    Plugin
		want string
	}{
		{Plugin{Name: "Bad Name", Passes: []Pass{ok}}, "plugin name"},
		{Plugin{Name: "x"}, "declares no passes"},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p"}}}, "has no Run"},
		{Plugin{Name: "x", Passes: []Pass{ok, ok}}, "declared twice"},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Anchor: "next:cse"}}}, "want after:<pass> or before:<pass>"},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p_q", Run: noop}}}, "pass name"},
	} {
		if err := c.p.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
	if err := (Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Anchor: "before:dce"}}}).Check(); err != nil {
		t.Error(err)
	}
}

func TestOptions(t *testing.T) {
	o := NewOptions(Pass{Options: []Option{{Name: "n", Default: "7"}, {Name: "b", Default: "true"}}}, map[string]string{"f": "2.5", "bad": "x"})
	if n, err := o.Int("n"); n != 7 || err != nil {
		t.Errorf("Int(n) = %d, %v", n, err)
	}
	if f, err := o.Float("f"); f != 2.5 || err != nil {
		t.Errorf("Float(f) = %v, %v", f, err)
	}
	if b, err := o.Bool("b"); !b || err != nil {
		t.Errorf("Bool(b) = %v, %v", b, err)
	}
	if _, err := o.Int("bad"); err == nil || !strings.Contains(err.Error(), `option bad = "x": want an integer`) {
		t.Errorf("Int(bad): %v", err)
	}
	o.Printf("%d done\n", 3)
	if o.Output() != "3 done\n" {
		t.Errorf("Output() = %q", o.Output())
	}
}

func TestApply(t *testing.T) {
	p := Plugin{Name: "x", Passes: []Pass{
		{Name: "noop", Run: noop},
		{Name: "boom", Run: func(*ir.Module, Options) error { panic("kaboom") }},
		{Name: "breaks", Run: func(m *ir.Module, _ Options) error {
			m.Funcs[0].Results[0].Type.DType = ir.I32 // no longer matches the signature
			m.Funcs[0].Results = append(m.Funcs[0].Results, &ir.Value{Name: "ghost", Type: ir.T(ir.F32)})
			return nil
		}},
	}}
	out, changed, _, err := p.Apply("noop", module, nil)
	if err != nil || changed || out != module {
		t.Errorf("noop: changed %v, err %v, out %q", changed, err, out)
	}
	if _, _, _, err := p.Apply("boom", module, nil); err == nil || !strings.Contains(err.Error(), "pass boom: panic: kaboom") {
		t.Errorf("panic: %v", err)
	}
	if _, _, _, err := p.Apply("breaks", module, nil); err == nil || !strings.Contains(err.Error(), "produced a module that does not verify") {
		t.Errorf("broken module: %v", err)
	}
	if _, _, _, err := p.Apply("nope", module, nil); err == nil || !strings.Contains(err.Error(), `has no pass "nope"`) {
		t.Errorf("unknown pass: %v", err)
	}
	if _, _, _, err := p.Apply("noop", "not ir", nil); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("bad input: %v", err)
	}
}
