package passes

import (
	"time"

	"github.com/deepc-dev/deepc/ir"
)

// Instrument is a plug-in to the pass manager, called around every pass.
// An error from a hook fails the run and is attributed to the pass.
type Instrument interface {
	BeforePass(ctx *Context, p Pass, m *ir.Module) error
	AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error
}

// Result is what the manager knows after a pass ran.
type Result struct {
	Changed bool
	// Err is the pass's error (a recovered panic included) or the first
	// complaint of an earlier instrument about this pass (the verifier's).
	Err     error
	Elapsed time.Duration
}

// PipelineInstrument is an Instrument that also wants to see the input
// before the first pass and the end of the run.
type PipelineInstrument interface {
	Instrument
	BeforePipeline(ctx *Context, m *ir.Module) error
	// AfterPipeline gets the run's error, if any; it runs even on failure.
	AfterPipeline(ctx *Context, m *ir.Module, err error) error
}

// FailureInstrument is told when a pass step failed and may add to the
// error (the crash reproducer names the file it wrote).
type FailureInstrument interface {
	Instrument
	PassFailed(ctx *Context, p Pass, err error) error
}

// nopInstrument gives instruments that need only some hooks the others.
type nopInstrument struct{}

func (nopInstrument) BeforePass(*Context, Pass, *ir.Module) error        { return nil }
func (nopInstrument) AfterPass(*Context, Pass, *ir.Module, Result) error { return nil }
