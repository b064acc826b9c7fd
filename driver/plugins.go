package driver

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/host"
)

// Plugins are the pass plugins a compile starts.
type Plugins struct {
	Paths []string
	// SHA256 pins plugins: NAME=HEX entries (NAME: the path as given, or
	// its base name).
	SHA256  []string
	Timeout time.Duration
	// Log, when set, receives the plugins' stderr after each of their
	// passes, not only when one fails (--plugin-log).
	Log io.Writer
}

// list is the plugins to start: $DEEPC_PLUGINS, then Paths.
func (p Plugins) list() []string {
	var out []string
	for _, s := range strings.Split(os.Getenv("DEEPC_PLUGINS"), ":") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return append(out, p.Paths...)
}

// Start starts the plugins; nil when there are none. A checksum for a
// plugin that is not loaded is an error, even with no plugins at all.
func (p Plugins) Start() (*host.Set, error) {
	sums := map[string]string{}
	for _, kv := range p.SHA256 {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || len(v) != 64 || strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--plugin-sha256 %q: want NAME=<64 hex digits>", kv)
		}
		sums[k] = v
	}
	paths := p.list()
	if len(paths) == 0 && len(sums) == 0 {
		return nil, nil
	}
	if len(paths) > 0 && p.Timeout <= 0 {
		return nil, fmt.Errorf("--plugin-timeout must be positive, got %v", p.Timeout)
	}
	return host.StartAll(paths, host.Config{Timeout: p.Timeout, SHA256: sums, Log: p.Log})
}

// Prepared is a pipeline ready to run: its plugins started, their passes
// placed by their anchors, its options checked.
type Prepared struct {
	Pipeline passes.Pipeline
	// Registry holds the built-in passes and the plugins'.
	Registry *passes.Registry
	// Plugins are the plugins started (nil without plugins).
	Plugins *host.Set
	// Options are each pass's options (--pass-option).
	Options passes.PassOptions
}

// Prepare starts the plugins (if any) and builds the pipeline spec over
// the built-in passes and theirs, plugin passes placed by their anchors
// (notes on the placement go to diag), and checks options (key=value,
// key PASS.name or a name only one pass has) against the passes'
// declarations and the pipeline: all before any pass runs. The caller
// closes the result.
func (p Plugins) Prepare(spec string, options []string, diag io.Writer) (*Prepared, error) {
	set, err := p.Start()
	if err != nil {
		return nil, err
	}
	pr := &Prepared{Registry: passes.Default, Plugins: set}
	if err := pr.build(spec, options, diag); err != nil {
		pr.Close()
		return nil, err
	}
	return pr, nil
}

func (pr *Prepared) build(spec string, options []string, diag io.Writer) error {
	var err error
	if pr.Plugins != nil {
		if pr.Registry, err = pr.Plugins.Registry(passes.Default); err != nil {
			return err
		}
		var notes []string
		spec, notes = pr.Plugins.Place(spec)
		for _, n := range notes {
			fmt.Fprintln(diag, "deepc: note:", n)
		}
	}
	if pr.Pipeline, err = pr.Registry.ParsePipeline(spec); err != nil {
		return err
	}
	pr.Options, err = pr.Registry.ResolveFor(pr.Pipeline, options)
	return err
}

// pluginPasses keeps the names of plugin passes.
func (pr *Prepared) pluginPasses(names []string) []string {
	var out []string
	for _, n := range names {
		if p, ok := pr.Registry.Lookup(n); ok {
			if _, plugin := p.(*host.Pass); plugin {
				out = append(out, n)
			}
		}
	}
	return out
}

// Close stops the plugins.
func (pr *Prepared) Close() {
	if pr.Plugins != nil {
		pr.Plugins.Close()
	}
}

// Context is a pass context for the pipeline: its options, diagnostics to
// diag.
func (pr *Prepared) Context(diag io.Writer) *passes.Context {
	ctx := &passes.Context{Out: diag, PassOptions: pr.Options}
	if pr.Plugins != nil {
		for _, p := range pr.Plugins.Plugins {
			ctx.Plugins = append(ctx.Plugins, p.Path)
		}
	}
	return ctx
}

// Record puts the plugins that ran into the module's attributes and prints
// them: the compile output names every plugin, version and hash.
func Record(set *host.Set, m *ir.Module, diag io.Writer) {
	if set == nil {
		return
	}
	if m.Attrs == nil {
		m.Attrs = ir.Attrs{}
	}
	m.Attrs["plugins"] = set.Attrs()
	for _, p := range set.Plugins {
		fmt.Fprintf(diag, "plugin %s %s sha256 %s\n", p.Manifest.Name, p.Manifest.Version, p.SHA256)
	}
}
