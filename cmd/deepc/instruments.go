package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/spf13/cobra"
)

// pipelineFlags are the pass-manager flags shared by compile and opt. Each
// becomes an instrument; passes know nothing of them.
type pipelineFlags struct {
	passes           string
	printBefore      []string
	printAfter       []string
	printAfterChange bool
	dumpDir          string
	timing           bool
	crashDir         string
	noVerify         bool
	options          []string
	plugins          pluginFlags
}

func (f *pipelineFlags) register(cmd *cobra.Command, defaultPipeline string) {
	fl := cmd.Flags()
	fl.StringVar(&f.passes, "passes", defaultPipeline, "comma-separated pass pipeline (see `deepc passes`); \"\" runs none")
	fl.StringSliceVar(&f.printBefore, "print-ir-before", nil, "print the IR before these passes (names, or all)")
	fl.StringSliceVar(&f.printAfter, "print-ir-after", nil, "print the IR after these passes (names, or all)")
	fl.BoolVar(&f.printAfterChange, "print-ir-after-change", false, "print the IR after every pass that changed it")
	fl.StringVar(&f.dumpDir, "dump-ir-dir", "", "write every stage as NNN_<pass>.ir into this directory")
	fl.BoolVar(&f.timing, "timing", false, "print per-pass wall time")
	fl.StringVar(&f.crashDir, "crash-reproducer", "", "on a pass failure, write the IR before the failing pass and the pipeline here")
	fl.BoolVar(&f.noVerify, "no-verify", false, "do not verify the IR after each pass")
	fl.StringArrayVar(&f.options, "pass-option", nil, "a pass option key=value, e.g. moe-block=128 (repeatable; see deepc passes)")
	f.plugins.register(cmd)
	_ = cmd.RegisterFlagCompletionFunc("passes", completePasses)
	_ = cmd.RegisterFlagCompletionFunc("print-ir-before", completePasses)
	_ = cmd.RegisterFlagCompletionFunc("print-ir-after", completePasses)
}

func completePasses(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	names := []string{"all"}
	for _, p := range passes.All() {
		names = append(names, p.Name()+"\t"+p.Description())
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// run runs the pipeline over m with the instruments the flags ask for;
// instrument output goes to diag.
func (f *pipelineFlags) run(m *ir.Module, diag io.Writer) error {
	pl, reg, set, err := f.plugins.driver().Pipeline(f.passes, diag)
	if err != nil {
		return err
	}
	if set != nil {
		defer set.Close()
	}
	for _, name := range append(slices.Clone(f.printBefore), f.printAfter...) {
		if _, ok := reg.Lookup(name); !ok && name != "all" {
			return fmt.Errorf("--print-ir-before/after: no pass named %q (see deepc passes)", name)
		}
	}
	opts, err := passes.ParseOptions(f.options)
	if err != nil {
		return fmt.Errorf("--pass-option: %w", err)
	}
	ctx := &passes.Context{Out: diag, NoVerify: f.noVerify, Options: opts}
	if len(f.printBefore) > 0 {
		ctx.Instruments = append(ctx.Instruments, passes.PrintBefore(f.printBefore...))
	}
	if len(f.printAfter) > 0 {
		ctx.Instruments = append(ctx.Instruments, passes.PrintAfter(f.printAfter...))
	}
	if f.printAfterChange {
		ctx.Instruments = append(ctx.Instruments, passes.PrintAfterChange())
	}
	if f.dumpDir != "" {
		ctx.Instruments = append(ctx.Instruments, passes.DumpDir(f.dumpDir))
	}
	if f.crashDir != "" {
		if err := os.MkdirAll(f.crashDir, 0o755); err != nil {
			return err
		}
		ctx.Instruments = append(ctx.Instruments, passes.CrashReproducer(f.crashDir))
	}
	if f.timing {
		ctx.Instruments = append(ctx.Instruments, passes.NewTiming())
	}
	if err := passes.Run(ctx, m, pl); err != nil {
		return err
	}
	driver.Record(set, m, diag)
	if ctx.Stats != nil {
		return ctx.Stats.WriteTable(diag)
	}
	return nil
}

// writeOutput writes text to path, or to w when path is "" or "-".
func writeOutput(w io.Writer, path, text string) error {
	if path == "" || path == "-" {
		_, err := io.WriteString(w, text)
		return err
	}
	f, err := safefile.Create(path, safefile.IRText)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return fmt.Errorf("writing output: %w", err)
	}
	return f.Close()
}

// summary is a one-line description of a module.
func summary(m *ir.Module) string {
	var fs []string
	for _, f := range m.Funcs {
		fs = append(fs, fmt.Sprintf("%s (%d ops)", f.Name, len(f.Body)))
	}
	return fmt.Sprintf("%s: %d params; functions %s", m.Name, len(m.Params), strings.Join(fs, ", "))
}
