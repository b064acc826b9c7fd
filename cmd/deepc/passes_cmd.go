package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/deepc-dev/deepc/passes"
	"github.com/spf13/cobra"
)

func newPassesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passes",
		Short: "List the registered passes with a one-line description each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, p := range passes.All() {
				fmt.Fprintf(w, "%s\t%s\n", p.Name(), p.Description())
			}
			return w.Flush()
		},
	}
}
