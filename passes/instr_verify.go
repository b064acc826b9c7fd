package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// VerifyEach runs ir.Verify on the input and after every pass. Run adds it
// first unless Context.NoVerify is set; its error names the pass that broke
// the IR.
func VerifyEach() Instrument { return verifyEach{} }

type verifyEach struct{ nopInstrument }

func (verifyEach) BeforePipeline(_ *Context, m *ir.Module) error {
	if err := ir.Verify(m); err != nil {
		return fmt.Errorf("does not verify: %w", err)
	}
	return nil
}

func (verifyEach) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if r.Err != nil {
		return nil // the pass's own error says more than a half-done module's faults
	}
	if err := ir.Verify(m); err != nil {
		return fmt.Errorf("%s produced invalid IR: %w", stepName(ctx, p), err)
	}
	return nil
}

func (verifyEach) AfterPipeline(*Context, *ir.Module, error) error { return nil }
