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
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Options: []Option{{Name: "n", Type: "integer"}}}}}, `plugin x: pass p: option n: type "integer": want one of bool, enum, float, int, string`},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Options: []Option{{Name: "n", Type: Int, Default: "many"}}}}}, `default: option n: "many" is not an integer`},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Options: []Option{{Name: "m", Type: Enum, Default: "a"}}}}}, "an enum needs its values"},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Options: []Option{{Name: "m", Type: Enum, Values: []string{"a"}, Default: "b"}}}}}, `"b" is not one of a`},
		{Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Options: []Option{{Name: "n"}, {Name: "n"}}}}}, "option n declared twice"},
	} {
		if err := c.p.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
	typed := []Option{{Name: "n", Type: Int, Default: "3"}, {Name: "f", Type: Float, Default: "0.5"}, {Name: "b", Type: Bool, Default: "false"},
		{Name: "m", Type: Enum, Values: []string{"a", "b"}, Default: "a"}, {Name: "s", Default: "anything"}}
	if err := (Plugin{Name: "x", Passes: []Pass{{Name: "p", Run: noop, Anchor: "before:dce", Options: typed}}}).Check(); err != nil {
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
	// A key may name its pass, as on deepc's command line; another pass's
	// keys are not this pass's.
	q := NewOptions(Pass{Name: "p", Options: []Option{{Name: "n", Default: "7"}}}, map[string]string{"p.n": "9", "n": "8", "other.m": "1"})
	if n, err := q.Int("n"); n != 9 || err != nil {
		t.Errorf("Int(n) with p.n given = %d, %v", n, err)
	}
	if v := q.String("m"); v != "" {
		t.Errorf("String(m) = %q: another pass's option leaked in", v)
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
	// A panic comes back with the stack from the panicking frame to the
	// SDK's call of the pass: where it happened, not how the call came in.
	_, _, _, err = p.Apply("boom", module, nil)
	if err == nil || !strings.Contains(err.Error(), "pass boom: panic: kaboom\n    ") || !strings.Contains(err.Error(), "sdk_test.go:") {
		t.Errorf("panic: %v", err)
	} else if strings.Contains(err.Error(), "sdk.run(") || strings.Contains(err.Error(), "runtime/debug") {
		t.Errorf("the stack keeps the SDK's or the recovery's frames:\n%v", err)
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

func TestManifestCarriesOptionTypes(t *testing.T) {
	m := ManifestOf(Plugin{Name: "x", Version: "1", Passes: []Pass{{Name: "p", Run: noop,
		Options: []Option{{Name: "m", Type: Enum, Values: []string{"a", "b"}, Default: "a"}, {Name: "s"}}}}})
	o := m.Passes[0].Options
	if o[0].Type != "enum" || strings.Join(o[0].Values, ",") != "a,b" || o[1].Type != "" {
		t.Errorf("options in the manifest: %v", o)
	}
}
