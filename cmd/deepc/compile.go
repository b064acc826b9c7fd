package main

import (
	"fmt"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/spf13/cobra"
)

func newCompileCmd() *cobra.Command {
	var (
		sets  []string
		emit  string
		out   string
		flags pipelineFlags
		gpu   bundleFlags
	)
	cmd := &cobra.Command{
		Use:   "compile FILE.deep",
		Short: "Compile a .deep model: to IR through a pass pipeline, or to a GPU kernel bundle with --target",
		Long: `compile elaborates a .deep model into the tensor IR (a forward function, and
an mtp function when the model has multi-token prediction), then runs a pass
pipeline (default ` + passes.CanonicalPipeline + `) with the IR verified after every pass.

--html FILE writes one self-contained page with a column per pass showing a
function (forward, or the one --html-func names) before the first pass and
after each: lines new since the previous column are highlighted, a click on a
%value marks its definition and uses in every column, and a click on a
column's header folds it.

Errors in the model print file:line:col, the source line and a caret, and
deepc exits with status 1.

Examples:
  deepc compile models/deepseek_v3.deep --timing
  deepc compile models/deepseek_v3_tiny.deep --emit ir -o tiny.ir
  deepc compile models/deepseek_v3.deep --set mtp_depth=0 --set q_lora_rank=0 --emit ir
  deepc compile models/deepseek_v3.deep --print-ir-after=cse --passes canonicalize,cse
  deepc compile models/deepseek_v3_tiny.deep --dump-ir-dir /tmp/stages
  deepc compile models/deepseek_v3_tiny.deep --html passes.html --html-func mtp
  deepc compile models/deepseek_v3.deep --target sm_90a --graph prefill,decode -o v3.bundle

With --target, compile runs the inference pipeline and plan-kernels (unless
--passes is given), emits every kernel region of the chosen graphs as LLVM IR,
turns it into PTX with llc and into cubins with ptxas, and writes a bundle
directory: manifest.json (programs, kernels, resources, SHA-256 of every
file), kernels/*.ptx and *.cubin, ir/module.ir. See deepc kernels, deepc
bundle verify and deepc run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if gpu.target == "" {
				if err := checkIROutput(out); err != nil {
					return err
				}
			}
			start := time.Now()
			m, err := dsl.CompileFile(args[0], dsl.Options{Sets: sets, ReadFile: models.ReadFile})
			if err != nil {
				return err
			}
			elaborated := time.Since(start)
			diag := cmd.ErrOrStderr()
			if flags.timing {
				fmt.Fprintf(diag, "elaborate %s: %.1f ms\n", args[0], float64(elaborated.Microseconds())/1000)
			}
			if gpu.target != "" && !cmd.Flags().Changed("passes") {
				flags.passes = passes.KernelPipeline
			}
			if err := flags.run(m, diag); err != nil {
				return err
			}
			if gpu.target != "" {
				src, err := models.ReadFile(args[0])
				if err != nil {
					return err
				}
				return gpu.bundle(m, src, args[0], sets, out).Build(diag)
			}
			switch emit {
			case "ir":
				return writeOutput(cmd.OutOrStdout(), out, ir.Print(m))
			case "":
				if out != "" {
					return writeOutput(cmd.OutOrStdout(), out, ir.Print(m))
				}
				fmt.Fprintln(diag, "compiled", summary(m))
				return nil
			}
			return fmt.Errorf("--emit %q: the only output kind so far is ir", emit)
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override a config value: key=value or key.field=value (repeatable)")
	cmd.Flags().StringVar(&emit, "emit", "", "what to write: ir (the text form); default: ir when -o is given, else a summary")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default stdout)")
	flags.register(cmd, passes.CanonicalPipeline)
	gpu.register(cmd)
	_ = cmd.RegisterFlagCompletionFunc("emit", cobra.FixedCompletions([]string{"ir"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
