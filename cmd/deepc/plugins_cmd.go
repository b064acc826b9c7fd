package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/host"
	"github.com/spf13/cobra"
)

// pluginFlags start pass plugins for compile, opt and passes.
type pluginFlags struct {
	paths   []string
	sums    []string
	timeout time.Duration
}

func (f *pluginFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.paths, "plugin", nil, "a pass plugin binary to start (repeatable; also $DEEPC_PLUGINS, colon-separated)")
	fl.StringArrayVar(&f.sums, "plugin-sha256", nil, "NAME=HEX: refuse to start plugin NAME (its path as given, or base name) unless its SHA-256 is HEX (repeatable)")
	fl.DurationVar(&f.timeout, "plugin-timeout", host.DefaultTimeout, "deadline for a plugin's start-up and handshake and for each call (Go duration: 30s, 2m); the process is killed after it")
}

// list is the plugins to start: $DEEPC_PLUGINS, then --plugin.
func (f *pluginFlags) list() []string {
	var out []string
	for _, p := range strings.Split(os.Getenv("DEEPC_PLUGINS"), ":") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return append(out, f.paths...)
}

// start starts the plugins; nil when there are none.
func (f *pluginFlags) start() (*host.Set, error) {
	paths := f.list()
	if len(paths) == 0 {
		return nil, nil
	}
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--plugin-timeout must be positive, got %v", f.timeout)
	}
	sums := map[string]string{}
	for _, kv := range f.sums {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || len(v) != 64 || strings.Trim(strings.ToLower(v), "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--plugin-sha256 %q: want NAME=<64 hex digits>", kv)
		}
		sums[k] = v
	}
	return host.StartAll(paths, host.Config{Timeout: f.timeout, SHA256: sums})
}

// pipeline starts the plugins (if any) and builds the pipeline spec over
// the built-in passes and theirs, plugin passes placed by their anchors.
// The caller closes the returned set (nil without plugins).
func (f *pluginFlags) pipeline(spec string, diag io.Writer) (passes.Pipeline, *passes.Registry, *host.Set, error) {
	set, err := f.start()
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

// record puts the plugins that ran into the module's attributes and
// prints them: the compile output names every plugin, version and hash.
func record(set *host.Set, m *ir.Module, diag io.Writer) {
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

func newPluginsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "Work with pass plugins (see docs/plugins.md)",
	}
	var pf pluginFlags
	inspect := &cobra.Command{
		Use:   "inspect PATH...",
		Short: "Start plugins and print their manifests: name, version, SHA-256, passes with anchors and options",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf.paths = args
			for _, path := range args {
				p, err := host.Start(path, host.Config{Timeout: pf.timeout})
				if err != nil {
					return err
				}
				writeManifest(cmd.OutOrStdout(), p)
				p.Close()
			}
			return nil
		},
	}
	inspect.Flags().DurationVar(&pf.timeout, "plugin-timeout", host.DefaultTimeout, "deadline for start-up and the manifest call")
	cmd.AddCommand(inspect)
	return cmd
}

func writeManifest(w io.Writer, p *host.Plugin) {
	m := p.Manifest
	fmt.Fprintf(w, "plugin   %s\nversion  %s\napi      %d\npath     %s\nsha256   %s\npasses:\n", m.Name, m.Version, m.ApiVersion, filepath.Clean(p.Path), p.SHA256)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ps := range m.Passes {
		anchor := ps.Anchor
		if anchor == "" {
			anchor = "(only when named)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ps.Name, anchor, ps.Description)
		for _, o := range ps.Options {
			fmt.Fprintf(tw, "    --pass-option %s=\t(default %q)\t%s\n", o.Name, o.Default, o.Description)
		}
	}
	tw.Flush()
}
