package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/driver"
	"github.com/spf13/cobra"
)

func newInitCmd() *cobra.Command {
	var (
		sets   []string
		out    string
		seed   int64
		format string
		shards int
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "init MODEL.deep --out DIR",
		Short: "Write a checkpoint of deterministic random weights for a model",
		Long: `init writes a Hugging Face style checkpoint for the model: config.json and
safetensors shards with every param under its official name, drawn from a
stream seeded by --seed and the tensor's name (norms near 1, matrices
N(0, 1/fan_in)). The same arguments always give the same bytes. Use it to
try the runtime without downloading weights.

--out must be new or empty (a directory holding files, a real checkpoint
perhaps, is refused unless --force).

Examples:
  deepc init models/deepseek_v3_tiny.deep --out tiny/
  deepc init models/deepseek_v3_tiny.deep --out tiny-bf16/ --format bf16 --shards 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			m, err := driver.RandomCheckpoint(args[0], sets, out, seed, format, shards, force)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d params of %s (%s, %d shard(s))\n", out, len(m.Params), m.Name, format, shards)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config value: key=value (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "checkpoint directory to write")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&format, "format", "fp8", "f32, bf16, or fp8 (E4M3 with 128x128 block scales where the model quantizes)")
	cmd.Flags().IntVar(&shards, "shards", 1, "number of safetensors shards (more than one writes an index)")
	cmd.Flags().BoolVar(&force, "force", false, "write into --out even when it holds files (a checkpoint there would be overwritten)")
	return cmd
}
