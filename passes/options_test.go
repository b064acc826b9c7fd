package passes

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// optionRegistry has two passes that take options, sharing the key
// "size", and one that takes none. Each reports the options it sees.
func optionRegistry(t *testing.T, seen map[string]string) *Registry {
	t.Helper()
	record := func(name string) RunFunc {
		return func(ctx *Context, _ *ir.Module) (bool, error) {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(ctx.Options)) {
				kv = append(kv, k+"="+ctx.Options[k])
			}
			seen[name] = strings.Join(kv, " ")
			return false, nil
		}
	}
	r := NewRegistry()
	for _, p := range []Pass{
		NewPassWithOptions("tile", "", []Option{
			{Name: "size", Type: TypeInt, Default: "128"},
			{Name: "mode", Type: TypeEnum, Values: []string{"fast", "exact"}, Default: "exact"},
			{Name: "scale", Type: TypeFloat, Default: "1.5"},
		}, record("tile")),
		NewPassWithOptions("report", "", []Option{
			{Name: "size", Type: TypeInt, Default: "4096"},
			{Name: "verbose", Type: TypeBool, Default: "false"},
			{Name: "title"},
		}, record("report")),
		NewPass("plain", "", record("plain")),
	} {
		if err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestResolveOptions(t *testing.T) {
	r := optionRegistry(t, map[string]string{})
	got, err := r.ResolveOptions([]string{"tile.size=64", "verbose=true", " title = a b ", "tile.mode=fast", "tile.size=32"})
	if err != nil {
		t.Fatal(err)
	}
	want := PassOptions{"tile": {"size": "32", "mode": "fast"}, "report": {"verbose": "true", "title": "a b"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := r.ResolveOptions(nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no options: %v, %v (want an empty, non-nil map: scoping on)", got, err)
	}
}

// Every way an option can be wrong is an error that says what is known.
func TestResolveOptionsErrors(t *testing.T) {
	r := optionRegistry(t, map[string]string{})
	for _, c := range []struct{ kv, want string }{
		{"size", `"size": want PASS.key=value`},
		{"=3", `"=3": want PASS.key=value`},
		{"tiel.size=3", `tiel.size=3: unknown pass "tiel" (did you mean "tile"?); known passes: plain, report, tile`},
		{"tile.sise=3", `tile.sise=3: pass tile has no option "sise" (did you mean "size"?); its options: size, mode, scale`},
		{"plain.size=3", `pass plain takes no options`},
		{"size=3", `option "size" is ambiguous: passes report, tile take it; write report.size or tile.size`},
		{"verbos=1", `no pass has an option "verbos" (did you mean "verbose"?); the options: report.size, report.verbose, report.title, tile.size, tile.mode, tile.scale`},
		{"tile.size=3.5", `tile.size=3.5: pass tile: option size: "3.5" is not an integer`},
		{"tile.scale=big", `option scale: "big" is not a finite number`},
		{"tile.scale=nan", `option scale: "nan" is not a finite number`},
		{"tile.scale=-Inf", `option scale: "-Inf" is not a finite number`},
		{"report.verbose=yes", `option verbose: "yes" is not true or false`},
		{"tile.mode=fats", `option mode: "fats" is not one of fast, exact (did you mean "fast"?)`},
	} {
		if _, err := r.ResolveOptions([]string{c.kv}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %q", c.kv, err, c.want)
		}
	}
	if _, err := NewRegistry().ResolveOptions([]string{"size=3"}); err == nil || !strings.Contains(err.Error(), "no pass takes options") {
		t.Errorf("no options anywhere: %v", err)
	}
}

func TestOptionDeclarations(t *testing.T) {
	for _, c := range []struct {
		opts []Option
		want string
	}{
		{[]Option{{Name: "Size"}}, `option name "Size": want lower-case words joined by '-' or '_'`},
		{[]Option{{Name: "a.b"}}, `option name "a.b"`},
		{[]Option{{Name: "n", Type: "integer"}}, `option n: type "integer": want one of bool, enum, float, int, string`},
		{[]Option{{Name: "m", Type: TypeEnum}}, "option m: an enum needs its values"},
		{[]Option{{Name: "n", Type: TypeInt, Values: []string{"1"}, Default: "1"}}, "option n: values are for enums, and the type is int"},
		{[]Option{{Name: "n", Type: TypeInt}}, `default: option n: "" is not an integer`},
		{[]Option{{Name: "n"}, {Name: "n"}}, "option n declared twice"},
	} {
		err := NewRegistry().Add(NewPassWithOptions("p", "", c.opts, nil))
		if err == nil || !strings.Contains(err.Error(), "pass p: "+c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}

// With PassOptions, a pass sees its own options with the defaults filled
// in and nothing else; the caller's Options come back after the run.
func TestRunScopesOptions(t *testing.T) {
	seen := map[string]string{}
	r := optionRegistry(t, seen)
	opts, err := r.ResolveOptions([]string{"tile.size=64", "title=t"})
	if err != nil {
		t.Fatal(err)
	}
	given := map[string]string{"leftover": "x"}
	ctx := &Context{Options: given, PassOptions: opts}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, r, "tile,report,plain")); err != nil {
		t.Fatal(err)
	}
	for pass, want := range map[string]string{
		"tile":   "mode=exact scale=1.5 size=64",
		"report": "size=4096 title=t verbose=false",
		"plain":  "",
	} {
		if seen[pass] != want {
			t.Errorf("%s saw %q, want %q", pass, seen[pass], want)
		}
	}
	if fmt.Sprint(ctx.Options) != fmt.Sprint(given) {
		t.Errorf("after the run Options = %v, want %v", ctx.Options, given)
	}
	// Without PassOptions, every pass sees the Options it was given.
	clear(seen)
	if err := Run(&Context{Options: given}, parse(t, smallModule), pipeline(t, r, "tile,plain")); err != nil {
		t.Fatal(err)
	}
	if seen["tile"] != "leftover=x" || seen["plain"] != "leftover=x" {
		t.Errorf("unscoped: %v", seen)
	}
}

// Options for a pass the pipeline does not run would do nothing: Run
// refuses them before any pass runs.
func TestRunRefusesOptionsOfAbsentPasses(t *testing.T) {
	seen := map[string]string{}
	r := optionRegistry(t, seen)
	opts, err := r.ResolveOptions([]string{"report.verbose=true"})
	if err != nil {
		t.Fatal(err)
	}
	err = Run(&Context{PassOptions: opts}, parse(t, smallModule), pipeline(t, r, "tile,plain"))
	if want := `options for pass report, which the pipeline "tile,plain" does not run`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	if len(seen) != 0 {
		t.Errorf("passes ran: %v", seen)
	}
}

// The built-in passes that read options declare them.
func TestBuiltinOptionDeclarations(t *testing.T) {
	got, err := Default.ResolveOptions([]string{"moe-block=4", "seq-len=8"})
	if err != nil {
		t.Fatal(err)
	}
	if got["moe-lower"]["moe-block"] != "4" || got["stats"]["seq-len"] != "8" {
		t.Errorf("got %v", got)
	}
	if _, err := Default.ResolveOptions([]string{"moe-lower.moe-block=lots"}); err == nil || !strings.Contains(err.Error(), `"lots" is not an integer`) {
		t.Errorf("moe-block=lots: %v", err)
	}
	p, _ := Lookup("moe-lower")
	if o := OptionsOf(p); len(o) != 1 || o[0].Type != TypeInt || o[0].Default != fmt.Sprint(DefaultMoEBlock) {
		t.Errorf("moe-lower declares %+v", o)
	}
}

// The manager names the passes that changed the module's params, once
// each, in order.
func TestParamsChangedBy(t *testing.T) {
	r := testRegistry(t)
	for _, p := range []Pass{
		NewPass("add-param", "", func(_ *Context, m *ir.Module) (bool, error) {
			m.Params = append(m.Params, &ir.Param{Name: fmt.Sprintf("extra%d", len(m.Params)), Type: ir.T(ir.F32, ir.C(4))})
			return true, nil
		}),
		NewPass("reshape-param", "", func(_ *Context, m *ir.Module) (bool, error) {
			m.Params[0].Type.Shape = ir.Shape{ir.C(16)}
			return true, nil
		}),
	} {
		if err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx := &Context{NoVerify: true}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, r, "noop,add-param,rename,add-param,reshape-param")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ctx.ParamsChangedBy, ","); got != "add-param,reshape-param" {
		t.Errorf("ParamsChangedBy = %q", got)
	}
	if err := Run(ctx, parse(t, smallModule), pipeline(t, r, "noop,rename")); err != nil || len(ctx.ParamsChangedBy) != 0 {
		t.Errorf("a later run without changes: %q, %v", ctx.ParamsChangedBy, err)
	}
}
