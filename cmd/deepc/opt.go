package main

import (
	"fmt"
	"io"

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/spf13/cobra"
)

func newOptCmd(stdin io.Reader) *cobra.Command {
	var (
		out   string
		flags pipelineFlags
	)
	cmd := &cobra.Command{
		Use:   "opt FILE.ir",
		Short: "Run a pass pipeline over IR in the text form (- reads stdin)",
		Long: `opt reads a module in the IR text form, verifies it, runs the pipeline given
by --passes and prints the result. With --passes "" it prints the module back
unchanged: the text form round-trips byte for byte. It is the driver of the
pass tests (testdata/*.ir with RUN and CHECK lines).

Examples:
  deepc opt model.ir --passes canonicalize,cse,dce
  deepc opt model.ir --passes "" 
  deepc opt model.ir --passes stats --timing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIROutput(out); err != nil {
				return err
			}
			var src []byte
			var err error
			if args[0] == "-" {
				src, err = safefile.ReadStream(stdin, "stdin", safefile.Source)
			} else {
				src, err = safefile.ReadFile(args[0], safefile.Source)
			}
			if err != nil {
				return err
			}
			m, err := ir.Parse(args[0], string(src))
			if err != nil {
				return err
			}
			if err := ir.Verify(m); err != nil {
				return fmt.Errorf("%s does not verify:\n%w", args[0], err)
			}
			if err := flags.run(m, cmd.ErrOrStderr()); err != nil {
				return err
			}
			return writeOutput(cmd.OutOrStdout(), out, ir.Print(m))
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default stdout)")
	flags.register(cmd, "")
	return cmd
}
