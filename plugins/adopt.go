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
	if err := ir.Verify(out); err != nil {
		return fmt.Errorf("returned IR that does not verify: %v", err)
	}
	*m = *out
	return nil
}
