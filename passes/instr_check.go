package passes

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// RoundTrip checks the text form's required property on the input and after
// every pass: printing, parsing the print and printing again gives the same
// text. Tests turn it on.
func RoundTrip() Instrument { return roundTrip{} }

type roundTrip struct{ nopInstrument }

func (roundTrip) BeforePipeline(ctx *Context, m *ir.Module) error {
	return checkRoundTrip(ctx.Printed(m))
}

func (roundTrip) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if r.Err != nil {
		return nil
	}
	if err := checkRoundTrip(ctx.Printed(m)); err != nil {
		return fmt.Errorf("after %s: %w", stepName(ctx, p), err)
	}
	return nil
}

func (roundTrip) AfterPipeline(*Context, *ir.Module, error) error { return nil }

func checkRoundTrip(text string) error {
	m, err := ir.Parse("printed.ir", text)
	if err != nil {
		return fmt.Errorf("printed IR does not parse: %w", err)
	}
	if again := ir.Print(m); again != text {
		return fmt.Errorf("printed IR does not print back the same: %s", firstDiff(text, again))
	}
	return nil
}

// firstDiff describes the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %q became %q", i+1, x, y)
		}
	}
	return "no difference"
}

// CheckChanged fails a pass whose changed flag disagrees with the IR:
// claiming no change while the printed IR differs (the manager would skip
// work that is needed), or claiming a change while it is identical (a
// fixed-point driver would loop). The text form prints everything a module
// holds, so equal text means an unchanged module. Tests turn it on.
func CheckChanged() Instrument { return &checkChanged{} }

type checkChanged struct{ before string }

func (c *checkChanged) BeforePass(ctx *Context, _ Pass, m *ir.Module) error {
	c.before = ctx.Printed(m)
	return nil
}

func (c *checkChanged) AfterPass(ctx *Context, p Pass, m *ir.Module, r Result) error {
	if r.Err != nil {
		return nil
	}
	if differs := ctx.Printed(m) != c.before; differs != r.Changed {
		return fmt.Errorf("%s reported changed = %v, but the IR %s", stepName(ctx, p), r.Changed,
			map[bool]string{true: "differs", false: "is the same"}[differs])
	}
	return nil
}
