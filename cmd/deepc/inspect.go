package main

import (
	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var (
		mf      modelFlags
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "inspect [MODEL.deep] --checkpoint DIR",
		Short: "Check a checkpoint's tensors against the model without reading their data",
		Long: `inspect compiles the model (default ` + driver.DefaultModel + `) with the
checkpoint's config.json and checks every safetensors header against the
model's params: missing and unexpected tensors, wrong shapes and dtypes,
missing or misshapen weight_scale_inv grids. It reads no tensor data, so it
is quick even for the full 671B checkpoint. Exit status 1 on any problem.

Examples:
  deepc inspect --checkpoint /data/DeepSeek-V3
  deepc inspect models/deepseek_v3_tiny.deep --checkpoint tiny/ -v`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := mf.spec(args, nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			l.Pipeline = "" // the checkpoint's names: the module as the DSL builds it
			m, err := l.Compile()
			if err != nil {
				return err
			}
			r, err := weights.Inspect(m, mf.checkpoint, weights.IgnoreTensors(models.CheckpointCopy))
			if perr := r.Print(cmd.OutOrStdout(), verbose); perr != nil {
				return perr
			}
			return err
		},
	}
	mf.register(cmd)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every binding, not only problems")
	return cmd
}
