package main

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/plugins/host"
	"github.com/spf13/cobra"
)

// pluginFlags start pass plugins for the commands that run a pipeline,
// and passes.
type pluginFlags struct {
	paths   []string
	sums    []string
	timeout time.Duration
	log     bool
}

func (f *pluginFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.paths, "plugin", nil, "a pass plugin binary to start (repeatable; also $DEEPC_PLUGINS, colon-separated)")
	fl.StringArrayVar(&f.sums, "plugin-sha256", nil, "NAME=HEX: refuse to start plugin NAME (its path as given, or base name) unless its SHA-256 is HEX (repeatable)")
	fl.DurationVar(&f.timeout, "plugin-timeout", host.DefaultTimeout, "deadline for a plugin's start-up and handshake and for each call (Go duration: 30s, 2m); the process is killed after it")
	fl.BoolVar(&f.log, "plugin-log", false, "show what plugins write to stderr (their logs) after each of their passes, not only when one fails")
}

// driver is the plugins the flags name; with --plugin-log their stderr
// goes to diag.
func (f *pluginFlags) driver(diag io.Writer) driver.Plugins {
	p := driver.Plugins{Paths: f.paths, SHA256: f.sums, Timeout: f.timeout}
	if f.log {
		p.Log = diag
	}
	return p
}

// given says whether the flags name a plugin or a checksum.
func (f *pluginFlags) given() bool { return len(f.paths) > 0 || len(f.sums) > 0 }

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
	for i, ps := range p.Passes() {
		anchor := ps.Anchor()
		if anchor == "" {
			anchor = "(only when named)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ps.Name(), anchor, m.Passes[i].Description)
		for _, o := range ps.Options() {
			fmt.Fprintf(tw, "    --pass-option %s.%s=%s\t(default %q)\t%s\n", ps.Name(), o.Name, placeholder(o), o.Default, o.Description)
		}
	}
	tw.Flush()
}
