package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
)

// scanProgress prints inspect --data's progress, a line every 10%.
func scanProgress(w io.Writer) func(done, total int64) {
	next := int64(0)
	return func(done, total int64) {
		if total > 0 && done*10 >= next*total {
			fmt.Fprintf(w, "\rscanning values: %3d%%", done*100/total)
			next = done*10/total + 1
			if done == total {
				fmt.Fprintln(w)
			}
		}
	}
}

func newInspectCmd() *cobra.Command {
	var (
		mf      modelFlags
		verbose bool
		data    bool
	)
	cmd := &cobra.Command{
		Use:   "inspect [MODEL.deep] --checkpoint DIR",
		Short: "Check a checkpoint's tensors against the model without reading their data",
		Long: `inspect compiles the model (by default the models/ file whose checkpoint
contract reads the architecture config.json names, e.g. LlamaForCausalLM →
models/llama3.deep; ` + driver.DefaultModel + ` when config.json names no
architectures) with the
checkpoint's config.json and checks every safetensors header against the
model's params: missing and unexpected tensors, wrong shapes and dtypes,
missing or misshapen weight_scale_inv grids. It reads no tensor data, so it
is quick even for the full 671B checkpoint; --data also reads every value
and reports tensors holding NaN or Inf. It says OK only when every check
passed. Exit status 1 on any problem.

Examples:
  deepc inspect --checkpoint /data/DeepSeek-V3
  deepc inspect models/deepseek_v3_tiny.deep --checkpoint tiny/ -v`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The checkpoint is checked against the module as the DSL
			// builds it: no pipeline runs, so these would do nothing.
			if mf.plugins.given() || len(mf.options) > 0 {
				return fmt.Errorf("--plugin, --plugin-sha256 and --pass-option do nothing here: inspect checks the checkpoint against the model as the DSL builds it, before any pass")
			}
			l, err := mf.spec(args, nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			l.Pipeline = "" // the checkpoint's names: the module as the DSL builds it
			m, err := l.Compile()
			if err != nil {
				return err
			}
			opts := []weights.Option{weights.IgnoreTensors(models.CheckpointCopy)}
			if data {
				opts = append(opts, weights.ScanValues(scanProgress(cmd.ErrOrStderr())))
			}
			r, err := weights.Inspect(m, mf.checkpoint, opts...)
			var mismatch *weights.MismatchError
			if err != nil && !errors.As(err, &mismatch) {
				return err // the checkpoint is malformed: there is no report to print
			}
			if perr := r.Print(cmd.OutOrStdout(), verbose); perr != nil {
				return perr
			}
			return err
		},
	}
	mf.register(cmd)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every binding, not only problems")
	cmd.Flags().BoolVar(&data, "data", false, "also read every tensor's data and report NaN and Inf values (reads the whole checkpoint)")
	return cmd
}
