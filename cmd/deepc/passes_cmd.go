package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/host"
	"github.com/spf13/cobra"
)

func newPassesCmd() *cobra.Command {
	var pf pluginFlags
	cmd := &cobra.Command{
		Use:   "passes",
		Short: "List the registered passes with a one-line description each (and plugin passes with --plugin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := pf.driver().Start()
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
			return w.Flush()
		},
	}
	pf.register(cmd)
	return cmd
}
