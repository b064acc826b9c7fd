package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/host"
	"github.com/spf13/cobra"
)

func newPassesCmd() *cobra.Command {
	var pf pluginFlags
	cmd := &cobra.Command{
		Use:   "passes",
		Short: "List the registered passes with a one-line description each, and their options (and plugin passes with --plugin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := pf.driver(cmd.ErrOrStderr()).Start()
			if err != nil {
				return err
			}
			reg := passes.Default
			if set != nil {
				defer set.Close()
				if reg, err = set.Registry(passes.Default); err != nil {
					return err
				}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, p := range reg.All() {
				from := "built-in"
				if pp, ok := p.(*host.Pass); ok {
					from = "plugin " + pp.Plugin().Name()
					if a := pp.Anchor(); a != "" {
						from += ", " + a
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", p.Name(), from, p.Description())
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return writeOptions(cmd.OutOrStdout(), reg.All())
		},
	}
	pf.register(cmd)
	return cmd
}

// writeOptions lists the options of ps, by pass, as --pass-option takes
// them, with their types and defaults.
func writeOptions(w io.Writer, ps []passes.Pass) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\noptions (--pass-option PASS.key=value; key=value when one pass has the key):")
	for _, p := range ps {
		for _, o := range passes.OptionsOf(p) {
			fmt.Fprintf(tw, "  --pass-option %s.%s=%s\t(default %q)\t%s\n", p.Name(), o.Name, placeholder(o), o.Default, o.Description)
		}
	}
	return tw.Flush()
}

// placeholder shows what an option takes: <int>, or an enum's values.
func placeholder(o passes.Option) string {
	if o.TypeOf() == passes.TypeEnum {
		return "<" + strings.Join(o.Values, "|") + ">"
	}
	return "<" + string(o.TypeOf()) + ">"
}

// registerPassOption adds --pass-option to a command that runs a pipeline.
func registerPassOption(cmd *cobra.Command, options *[]string) {
	cmd.Flags().StringArrayVar(options, "pass-option", nil, "a pass option PASS.key=value, e.g. moe-lower.moe-block=128 (repeatable; key=value when one pass has the key; deepc passes lists them)")
}
