package main

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/driver"
	"github.com/spf13/cobra"
)

// FuzzFlags parses arbitrary arguments with the flag set of every command
// and runs the checks commands make on flag values before they load
// anything (issue 15). Whatever the input: no panic. Running the commands
// themselves is left to the table tests: a fuzzer must not compile models
// or write files.
func FuzzFlags(f *testing.F) {
	for _, s := range []string{
		"train --seq -5 --lr NaN --steps -1 --schedule zigzag",
		"generate --max-tokens 9223372036854775807 --temperature NaN --top-p NaN",
		"forward --tokens 1,2,3 --moe-block 1000000000 --prefill -1",
		"kernels --bind T=4611686018427387904 --max-memory 1e400",
		"compile --set n_layers=2**62 -o x --target sm_90a",
		"gpu-check --phases forward,,kernels --batch -1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		root := newRoot(strings.NewReader(""))
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			_ = c.ParseFlags(args)
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(root)
		for _, a := range args {
			_, _ = parseBytes(a)
			if !strings.HasPrefix(a, "@") { // @FILE reads a file
				_, _ = driver.ParseTokens(a)
			}
			_, _ = driver.ParsePhases(strings.Split(a, ","))
		}
	})
}

// --max-memory reads sizes with units and refuses anything else: zero,
// negative, NaN, infinite, overflowing, unknown units.
func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1024": 1024, "8GiB": 8 << 30, "8G": 8 << 30, "512MB": 512e6, "1e9": 1e9, "1.5KiB": 1536} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1GB", "-5", "NaN", "Inf", "+Inf", "1e400", "9EiB", "8XB", "GB", "lots", "1e18TB", "8 GiB GiB"} {
		if n, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want a refusal", in, n)
		}
	}
}
