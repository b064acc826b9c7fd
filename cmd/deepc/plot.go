package main

import (
	"fmt"
	"path/filepath"

	"github.com/deepc-dev/deepc/driver"
	"github.com/spf13/cobra"
)

func newPlotCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plot RUN_DIR",
		Short: "Plot a training run's metrics.jsonl: loss (train, validation), learning rate, gradient norm",
		Long: `plot reads RUN_DIR/metrics.jsonl (written by deepc train) and draws three
panels sharing the step axis into a PNG: training and validation loss,
learning rate, and gradient norm.

Example:
  deepc plot runs/tiny            # writes runs/tiny/loss.png`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = filepath.Join(args[0], "loss.png")
			}
			n, err := driver.PlotRun(args[0], out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%d steps)\n", out, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output PNG (default RUN_DIR/loss.png)")
	return cmd
}
