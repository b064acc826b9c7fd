package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/spf13/cobra"
)

func newStatsCmd() *cobra.Command {
	var (
		sets   []string
		asJSON bool
		seqLen int64
	)
	cmd := &cobra.Command{
		Use:   "stats FILE.deep",
		Short: "Print a model's parameter counts, FLOPs per token and weight bytes",
		Long: `stats elaborates a model and counts, from the IR alone:
  params_total      every parameter a function reads
  params_activated  what one token of forward touches (embedding counted; of
                    expert weights read by grouped_linear, k of E experts)
  params_mtp        what the mtp function reads that forward does not
  flops_per_token   forward FLOPs over --seq-len tokens of one causal
                    sequence, divided by --seq-len
  weight_bytes      storage of the parameters by dtype

Examples:
  deepc stats models/deepseek_v3.deep
  deepc stats models/deepseek_v3.deep --json
  deepc stats models/deepseek_v3.deep --set n_layers=30 --seq-len 2048`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if seqLen > 1<<24 { // FLOP counts grow with seq-len²: past 2^24 they overflow
				return fmt.Errorf("--seq-len %d: at most %d", seqLen, 1<<24)
			}
			if seqLen <= 0 {
				return fmt.Errorf("--seq-len must be positive, got %d", seqLen)
			}
			m, err := dsl.CompileFile(args[0], dsl.Options{Sets: sets, ReadFile: models.ReadFile})
			if err != nil {
				return err
			}
			s := passes.ComputeStats(m, seqLen)
			if asJSON {
				b, err := s.JSON()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model %s\n", m.Name)
			return s.WriteTable(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config value: key=value or key.field=value (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().Int64Var(&seqLen, "seq-len", passes.DefaultSeqLen, "sequence length at which FLOPs per token are counted")
	return cmd
}
