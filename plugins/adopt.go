package plugins

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// Adopt replaces m with the module a plugin pass returned as text, after
// parsing and verifying it: nothing a plugin returns is used unverified.
// file names the text in parse errors.
func Adopt(m *ir.Module, file, text string) error {
	out, err := ir.Parse(file, text)
	if err != nil {
		return fmt.Errorf("returned IR that does not parse: %v", err)
	}
	return adopt(m, out)
}

// AdoptBinary is Adopt for a module returned in the binary form.
func AdoptBinary(m *ir.Module, b []byte) error {
	out, err := ir.Decode(b)
	if err != nil {
		return fmt.Errorf("returned a binary module that does not decode: %v", err)
	}
	return adopt(m, out)
}

func adopt(m, out *ir.Module) error {
	if err := ir.Verify(out); err != nil {
		return fmt.Errorf("returned IR that does not verify: %v", err)
	}
	*m = *out
	return nil
}
