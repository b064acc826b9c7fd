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

// Start starts the plugins; nil when there are none.
func (p Plugins) Start() (*host.Set, error) {
	paths := p.list()
	if len(paths) == 0 {
		return nil, nil
	}
	if p.Timeout <= 0 {
		return nil, fmt.Errorf("--plugin-timeout must be positive, got %v", p.Timeout)
	}
	sums := map[string]string{}
	for _, kv := range p.SHA256 {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || len(v) != 64 || strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--plugin-sha256 %q: want NAME=<64 hex digits>", kv)
		}
		sums[k] = v
	}
	return host.StartAll(paths, host.Config{Timeout: p.Timeout, SHA256: sums})
}

// Pipeline starts the plugins (if any) and builds the pipeline spec over
// the built-in passes and theirs, plugin passes placed by their anchors;
// notes on the placement go to diag. The caller closes the returned set
// (nil without plugins).
func (p Plugins) Pipeline(spec string, diag io.Writer) (passes.Pipeline, *passes.Registry, *host.Set, error) {
	set, err := p.Start()
	if err != nil {
		return passes.Pipeline{}, nil, nil, err
	}
	reg := passes.Default
	if set != nil {
		if reg, err = set.Registry(passes.Default); err != nil {
			set.Close()
			return passes.Pipeline{}, nil, nil, err
		}
		var notes []string
		spec, notes = set.Place(spec)
		for _, n := range notes {
			fmt.Fprintln(diag, "deepc: note:", n)
		}
	}
	pl, err := reg.ParsePipeline(spec)
	if err != nil {
		if set != nil {
			set.Close()
		}
		return passes.Pipeline{}, nil, nil, err
	}
	return pl, reg, set, nil
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
