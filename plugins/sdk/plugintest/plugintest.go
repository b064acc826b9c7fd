// Package plugintest tests deepc pass plugins with `go test`, in process:
//
//	func TestPasses(t *testing.T) {
//		plugintest.Run(t, myPlugin, "testdata/*.ir")
//	}
//
// Each file is a module in the IR text form with `// RUN:` lines naming a
// pipeline (`deepc opt %s --passes canonicalize,my-pass --pass-option k=v`,
// built-in passes and the plugin's passes mixed, optionally with
// `--check-prefix NAME`) and `// CHECK:` lines (CHECK, CHECK-NEXT,
// CHECK-NOT, CHECK-LABEL, CHECK-SAME, with {{regex}} blocks and [[X:regex]]
// captures used as [[X]]; see internal/filecheck) matched against the
// printed result followed by the passes' reports. The plugin's passes
// run as under deepc: the module goes to the pass in the binary form and
// comes back decoded and verified (the RoundTrip instrument also checks
// the text form after every pass), anchored passes join the pipeline at
// their anchors, and options are checked against their declarations.
// As in deepc's own pass tests, the CHECK lines must fail on the unchanged
// input, so a pass that does nothing cannot pass its test.
//
// Numerics runs a model on the CPU before and after a pipeline and
// measures how far the logits moved.
package plugintest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/filecheck"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

// Run runs the RUN and CHECK lines of every file matching glob, one
// subtest per file.
func Run(t *testing.T, p sdk.Plugin, glob string) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("plugintest: no files match %q (%v)", glob, err)
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			runs := filecheck.RunLines(string(src))
			if len(runs) == 0 {
				t.Fatal("no RUN line")
			}
			for _, run := range runs {
				r, err := filecheck.ParseOptRun(run)
				if err != nil {
					t.Fatal(err)
				}
				out, report, err := apply(p, r.Passes, r.Options, file, string(src))
				if err != nil {
					t.Fatalf("RUN %q: %v", run, err)
				}
				fc := r.Config(file)
				if err := fc.Check(out+report, string(src)); err != nil {
					t.Errorf("RUN %q:\n%v\n--- output ---\n%s%s", run, err, out, report)
				}
				orig, _ := ir.Parse(file, string(src))
				if fc.Check(ir.Print(orig), string(src)) == nil {
					t.Errorf("RUN %q: the CHECK lines also hold for the unchanged input; check for what the pass changes or reports", run)
				}
			}
		})
	}
}

// Apply runs pipeline (built-in and p's passes) over the module in src and
// returns the printed result and the passes' reports. As under deepc, p's
// anchored passes join the pipeline at their anchors and options (key or
// PASS.key) are checked against the passes' declarations first.
func Apply(p sdk.Plugin, pipeline string, options map[string]string, file, src string) (module, report string, err error) {
	var kvs []string
	for _, k := range slices.Sorted(maps.Keys(options)) {
		kvs = append(kvs, k+"="+options[k])
	}
	return apply(p, pipeline, kvs, file, src)
}

func apply(p sdk.Plugin, pipeline string, options []string, file, src string) (module, report string, err error) {
	reg := passes.Default.Clone()
	var anchored []passes.Anchored
	for _, ps := range p.Passes {
		if err := reg.Add(&pass{p: p, ps: ps}); err != nil {
			return "", "", fmt.Errorf("plugin %s: %v", p.Name, err)
		}
		anchored = append(anchored, passes.Anchored{Name: ps.Name, Anchor: ps.Anchor, Owner: p.Name})
	}
	for _, a := range anchored {
		if err := reg.CheckAnchor(a); err != nil {
			return "", "", err
		}
	}
	var out strings.Builder
	pipeline, notes := passes.Place(pipeline, anchored)
	for _, n := range notes {
		fmt.Fprintln(&out, "deepc: note:", n)
	}
	pl, err := reg.ParsePipeline(pipeline)
	if err != nil {
		return "", "", err
	}
	opts, err := reg.ResolveOptions(options)
	if err != nil {
		return "", "", fmt.Errorf("--pass-option %w", err)
	}
	m, err := ir.Parse(file, src)
	if err != nil {
		return "", "", err
	}
	if err := ir.Verify(m); err != nil {
		return "", "", fmt.Errorf("%s does not verify: %v", file, err)
	}
	ctx := &passes.Context{Out: &out, PassOptions: opts, Instruments: []passes.Instrument{passes.RoundTrip(), passes.CheckChanged()}}
	if err := passes.Run(ctx, m, pl); err != nil {
		return "", out.String(), err
	}
	return ir.Print(m), out.String(), nil
}

// pass runs a plugin pass in process, through the binary form, as deepc
// sends it to a Go plugin (the RoundTrip instrument checks the text form).
type pass struct {
	p  sdk.Plugin
	ps sdk.Pass
}

func (x *pass) Name() string        { return x.ps.Name }
func (x *pass) Description() string { return x.ps.Description }

// Options declares the pass's options as the SDK's manifest does.
func (x *pass) Options() []passes.Option { return x.ps.Decls() }

func (x *pass) Run(ctx *passes.Context, m *ir.Module) (bool, error) {
	out, changed, report, err := x.p.ApplyBinary(x.ps.Name, ir.Encode(m), ctx.Options)
	fmt.Fprint(ctx.Writer(), report)
	if err != nil {
		return false, err
	}
	if err := plugins.AdoptBinary(m, out); err != nil {
		return false, err
	}
	return changed, nil
}
