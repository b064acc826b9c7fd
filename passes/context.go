package passes

import (
	"io"
	"strconv"

	"github.com/deepc-dev/deepc/ir"
)

// Context is what a pipeline run shares: the instruments wrapped around each
// pass, options, analysis results, and where diagnostics go. The zero value
// is ready to use (verify-after-each on, diagnostics discarded). A Context
// serves one Run at a time.
type Context struct {
	// Out receives diagnostics and instrument output (IR dumps, timing
	// tables). Nil discards them.
	Out io.Writer
	// Instruments wrap every pass, in order, after the built-in verifier.
	Instruments []Instrument
	// NoVerify turns off verify-after-each, to look at what a broken pass
	// produced; pass tests keep it on.
	NoVerify bool
	// Options are the running pass's options by name ("seq-len" for
	// stats). Set by the caller, every pass sees them all, unchecked (tests
	// and embedders); with PassOptions set, Run fills it for each pass.
	Options map[string]string
	// PassOptions are each pass's own options, checked against the passes'
	// declarations (Registry.ResolveOptions). When set, Run refuses options
	// for a pass the pipeline does not run, and while a pass runs Options
	// holds its options with their defaults filled in, and nothing else.
	PassOptions PassOptions
	// Plugins are the plugin binaries the pipeline's passes come from, for
	// a crash reproducer's RUN line (deepc opt --plugin PATH ...).
	Plugins []string
	// ParamsChangedBy lists, in order, the passes of the last Run that
	// changed the module's params (names, types, attributes): when a
	// checkpoint no longer fits the module, they are where to look.
	ParamsChangedBy []string

	// Stats is the result of the stats analysis, once it has run.
	Stats *Stats
	// Analyses holds other passes' results by name, for passes (plugins'
	// among them) that have no field here.
	Analyses map[string]any

	pipeline Pipeline
	step     int // 1-based index of the running pass; 0 before the first
	printed  printMemo
}

// Writer is Out, or io.Discard.
func (c *Context) Writer() io.Writer {
	if c.Out == nil {
		return io.Discard
	}
	return c.Out
}

// Option returns option key of the running pass, or def when unset.
func (c *Context) Option(key, def string) string {
	if v, ok := c.Options[key]; ok {
		return v
	}
	return def
}

// IntOption returns option key as an integer, or def when unset.
func (c *Context) IntOption(key string, def int64) (int64, error) {
	v, ok := c.Options[key]
	if !ok {
		return def, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// Pipeline is the pipeline being run.
func (c *Context) Pipeline() Pipeline { return c.pipeline }

// Step is the 1-based position of the running pass in the pipeline (0 while
// the input is being looked at, before the first pass).
func (c *Context) Step() int { return c.step }

// Printed returns ir.Print(m), computed once per phase: once before the
// running pass (for BeforePass hooks) and once after it (for AfterPass hooks),
// however many instruments ask. An instrument that needs the IR before the
// pass must ask in BeforePass.
func (c *Context) Printed(m *ir.Module) string {
	if !c.printed.ok {
		c.printed = printMemo{ir.Print(m), true}
	}
	return c.printed.text
}

type printMemo struct {
	text string
	ok   bool
}

// invalidatePrinted marks the memo stale: the module may have changed.
func (c *Context) invalidatePrinted() { c.printed = printMemo{} }
