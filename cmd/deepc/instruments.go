package main

import (
	"errors"
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
	html             string
	htmlFunc         string
	timing           bool
	crashDir         string
	noVerify         bool
	options          []string
	plugins          pluginFlags
}

func (f *pipelineFlags) register(cmd *cobra.Command, defaultPipeline string) {
	fl := cmd.Flags()
	fl.StringVar(&f.passes, "passes", defaultPipeline, "comma-separated pass pipeline (deepc passes lists them); \"\" runs none")
	fl.StringSliceVar(&f.printBefore, "print-ir-before", nil, "print the IR before these passes (names, or all)")
	fl.StringSliceVar(&f.printAfter, "print-ir-after", nil, "print the IR after these passes (names, or all)")
	fl.BoolVar(&f.printAfterChange, "print-ir-after-change", false, "print the IR after every pass that changed it")
	fl.StringVar(&f.dumpDir, "dump-ir-dir", "", "write every stage as NNN_<pass>.ir into this directory")
	fl.StringVar(&f.html, "html", "", "write to `FILE` an HTML page with a column per pass showing one function after it (changed lines and clicked values highlighted)")
	fl.StringVar(&f.htmlFunc, "html-func", "", "the function `NAME` that --html shows (default: the module's first, forward for a model)")
	fl.BoolVar(&f.timing, "timing", false, "print per-pass wall time")
	fl.StringVar(&f.crashDir, "crash-reproducer", "", "on a pass failure, write into this directory (created if needed) crash_NNN_PASS.ir: the IR before the failing pass, the error and a RUN line that replays it")
	fl.BoolVar(&f.noVerify, "no-verify", false, "do not verify the IR after each pass")
	registerPassOption(cmd, &f.options)
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
	pr, err := f.plugins.driver(diag).Prepare(f.passes, f.options, diag)
	if err != nil {
		return err
	}
	defer pr.Close()
	for _, name := range append(slices.Clone(f.printBefore), f.printAfter...) {
		if _, ok := pr.Registry.Lookup(name); !ok && name != "all" {
			return fmt.Errorf("--print-ir-before/after: %w", pr.Registry.Unknown(name))
		}
	}
	if f.htmlFunc != "" && f.html == "" {
		return errors.New("--html-func: give --html FILE too")
	}
	if f.html != "" {
		// Refuse the path before the pipeline runs, not after.
		if _, err := safefile.CheckOutput(f.html, safefile.HTML); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	ctx := pr.Context(diag)
	ctx.NoVerify = f.noVerify
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
	var page *passes.HTMLView
	if f.html != "" {
		page = passes.HTML(f.htmlFunc)
		ctx.Instruments = append(ctx.Instruments, page)
	}
	err = passes.Run(ctx, m, pr.Pipeline)
	// A failed run still gets its page: the failing pass's column is the
	// one to look at.
	if page != nil && page.Stages() > 0 {
		err = errors.Join(err, writeHTML(f.html, page, diag))
	}
	if err != nil {
		return err
	}
	driver.Record(pr.Plugins, m, diag)
	if ctx.Stats != nil {
		return ctx.Stats.WriteTable(diag)
	}
	return nil
}

// writeOutput writes text to path, or to w when path is "" or "-".
// checkIROutput refuses, before any work, an -o path writeOutput would
// refuse after it (a device, a link, a file deepc did not write).
func checkIROutput(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	_, err := safefile.CheckOutput(path, safefile.IRText)
	return err
}

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

// writeHTML writes the page of the HTML view to path.
func writeHTML(path string, page *passes.HTMLView, diag io.Writer) error {
	f, err := safefile.Create(path, safefile.HTML)
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := page.WritePage(f); err != nil {
		f.Close()
		return fmt.Errorf("--html: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(diag, "wrote %s: @%s after each of %d passes\n", path, page.Func(), page.Stages()-1)
	return nil
}

// summary is a one-line description of a module.
func summary(m *ir.Module) string {
	var fs []string
	for _, f := range m.Funcs {
		fs = append(fs, fmt.Sprintf("%s (%d ops)", f.Name, len(f.Body)))
	}
	return fmt.Sprintf("%s: %d params; functions %s", m.Name, len(m.Params), strings.Join(fs, ", "))
}
