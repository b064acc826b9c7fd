package passes

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/ir"
)

// Run applies the pipeline to m in place. Each pass runs between its
// instruments' hooks; the first failing pass (an error, a panic, or an
// instrument's complaint such as invalid IR) stops the run, and the error
// names that pass. A nil ctx is a zero Context.
func Run(ctx *Context, m *ir.Module, pl Pipeline) error {
	if ctx == nil {
		ctx = &Context{}
	}
	if err := ctx.PassOptions.CheckIn(pl); err != nil {
		return err
	}
	given := ctx.Options
	defer func() { ctx.Options = given }()
	instrs := ctx.instruments()
	ctx.pipeline, ctx.step, ctx.ParamsChangedBy = pl, 0, nil
	ctx.invalidatePrinted()
	err := beforePipeline(ctx, instrs, m)
	for i, p := range pl.passes {
		if err != nil {
			break
		}
		ctx.step = i + 1
		if ctx.PassOptions != nil {
			ctx.Options = ctx.PassOptions.For(p)
		}
		err = runStep(ctx, instrs, p, m)
	}
	return afterPipeline(ctx, instrs, m, err)
}

// instruments are the context's, after the verifier unless turned off: the
// verifier goes first so that every other instrument sees its verdict.
func (c *Context) instruments() []Instrument {
	if c.NoVerify {
		return c.Instruments
	}
	return append([]Instrument{VerifyEach()}, c.Instruments...)
}

func beforePipeline(ctx *Context, instrs []Instrument, m *ir.Module) error {
	for _, in := range instrs {
		if pi, ok := in.(PipelineInstrument); ok {
			if err := pi.BeforePipeline(ctx, m); err != nil {
				return fmt.Errorf("input module: %w", err)
			}
		}
	}
	return nil
}

func afterPipeline(ctx *Context, instrs []Instrument, m *ir.Module, err error) error {
	errs := []error{err}
	for _, in := range instrs {
		if pi, ok := in.(PipelineInstrument); ok {
			errs = append(errs, pi.AfterPipeline(ctx, m, err))
		}
	}
	return errors.Join(errs...)
}

// runStep runs one pass between its instruments' hooks.
func runStep(ctx *Context, instrs []Instrument, p Pass, m *ir.Module) error {
	ctx.invalidatePrinted()
	for _, in := range instrs {
		if err := in.BeforePass(ctx, p, m); err != nil {
			return fmt.Errorf("before %s: %w", stepName(ctx, p), err)
		}
	}
	params := paramsOf(m)
	start := time.Now()
	changed, err := safeRun(ctx, p, m)
	if paramsOf(m) != params && !slices.Contains(ctx.ParamsChangedBy, p.Name()) {
		ctx.ParamsChangedBy = append(ctx.ParamsChangedBy, p.Name())
	}
	r := Result{Changed: changed, Err: err, Elapsed: time.Since(start)}
	ctx.invalidatePrinted()
	for _, in := range instrs {
		if e := in.AfterPass(ctx, p, m, r); e != nil {
			r.Err = errors.Join(r.Err, e)
		}
	}
	if r.Err == nil {
		return nil
	}
	err = r.Err
	for _, in := range instrs {
		if fi, ok := in.(FailureInstrument); ok {
			err = fi.PassFailed(ctx, p, err)
		}
	}
	return err
}

// safeRun runs p, turning a panic into a *PanicError so that one broken
// pass (or plugin wrapper) cannot take the compiler down without saying
// which pass it was.
func safeRun(ctx *Context, p Pass, m *ir.Module) (changed bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			changed, err = false, &PanicError{Pass: p.Name(), Step: ctx.step, Of: ctx.pipeline.Len(), Value: v, Stack: debug.Stack()}
		}
	}()
	changed, err = p.Run(ctx, m)
	if err != nil {
		err = fmt.Errorf("%s: %w", stepName(ctx, p), err)
	}
	return changed, err
}

// PanicError is a panic inside a pass, recovered.
type PanicError struct {
	Pass     string // the pass's name
	Step, Of int    // its position in the pipeline, and the pipeline's length
	Value    any
	Stack    []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("pass %s (%d/%d) panicked: %v", e.Pass, e.Step, e.Of, e.Value)
}

// stepName names a pass and its place in the pipeline, "pass cse (2/3)",
// since a pipeline may run a pass more than once.
func stepName(ctx *Context, p Pass) string {
	return fmt.Sprintf("pass %s (%d/%d)", p.Name(), ctx.step, ctx.pipeline.Len())
}

// paramsOf is the module's params as the text form prints them: what a
// checkpoint must match.
func paramsOf(m *ir.Module) string {
	var b strings.Builder
	for _, p := range m.Params {
		fmt.Fprintf(&b, "%s : %s %s\n", p.Name, p.Type, p.Attrs)
	}
	return b.String()
}
