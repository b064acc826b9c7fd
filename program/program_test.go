package program

import "testing"

// ParseDim reads what ir.Dim prints.
func TestParseDim(t *testing.T) {
	for s, want := range map[string]string{"7168": "7168", "T": "T", "8*T+32512": "8*T+32512", "T+3": "T+3", "2*C": "2*C"} {
		d, err := ParseDim(s)
		if err != nil || d.String() != want {
			t.Errorf("ParseDim(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "*T", "x*T", "T+y", "T+"} {
		if _, err := ParseDim(s); err == nil {
			t.Errorf("ParseDim(%q) accepted", s)
		}
	}
}
