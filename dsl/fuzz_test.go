package dsl

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// FuzzCompile feeds arbitrary text to the parser and checker. Whatever the
// input: no panic, no internal error, every error positioned; every loop
// iteration builds at least the ops its preflight bound promised; and a
// module that compiles verifies and survives the text form. The committed
// corpus (testdata/fuzz/FuzzCompile) holds hostile seeds: nesting past
// maxNesting, a long literal, loops past the limits, values that double,
// extends of a file that is not a model.
func FuzzCompile(f *testing.F) {
	iterationBuilt = func(s *ForStmt, bound int64, built int) {
		if int64(built) < bound {
			panic(fmt.Sprintf("loop at %s built %d ops in an iteration, below its lower bound %d", s.Pos, built, bound))
		}
	}
	defer func() { iterationBuilt = nil }()
	for _, p := range []string{"../models/deepseek_v3_tiny.deep", "testdata/errors/param_redeclared.deep"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	parent, err := os.ReadFile("../models/deepseek_v3.deep")
	if err != nil {
		f.Fatal(err)
	}
	read := func(path string) ([]byte, error) {
		if strings.HasSuffix(path, "deepseek_v3.deep") {
			return parent, nil
		}
		return nil, errors.New("no such file")
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := CompileSource("fuzz.deep", src, Options{ReadFile: read})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if err := ir.Verify(m); err != nil {
			t.Fatalf("compiled module does not verify: %v", err)
		}
		text := ir.Print(m)
		m2, err := ir.Parse("fuzz.ir", text)
		if err != nil {
			t.Fatalf("printed module does not parse: %v", err)
		}
		if ir.Print(m2) != text {
			t.Fatalf("print(parse(print(m))) != print(m)")
		}
	})
}
