package ir

import (
	"regexp"
	"testing"
)

// parseErrorPos is the file:line:col: prefix every parse error carries.
var parseErrorPos = regexp.MustCompile(`^fuzz\.ir:[0-9]+:[0-9]+: `)

// FuzzParse parses arbitrary text. Parse must never panic and must report
// errors with a position; a module that parses and verifies must print, parse
// and verify again, and print identically (docs/design.md §4), and its ops' costs must
// evaluate, and its binary form must decode to the same text. The seed
// corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("module @m {\n}\n")
	f.Add(Print(allOpsModule(f)))
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Parse("fuzz.ir", src)
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned a module and the error %v", err)
			}
			if !parseErrorPos.MatchString(err.Error()) {
				t.Fatalf("parse error without a file:line:col position: %v", err)
			}
			return
		}
		text := Print(m) // printing must not panic, verified or not
		if Verify(m) != nil {
			return
		}
		m2, err := Parse("fuzz.ir", text)
		if err != nil {
			t.Fatalf("printed text does not parse: %v\n--- input\n%s\n--- printed\n%s", err, src, text)
		}
		if err := Verify(m2); err != nil {
			t.Fatalf("printed text does not verify: %v\n--- printed\n%s", err, text)
		}
		if text2 := Print(m2); text2 != text {
			t.Fatalf("printing is not stable:\n--- first\n%s\n--- second\n%s", text, text2)
		}
		// The binary form carries the same module.
		if mb, err := Decode(Encode(m)); err != nil || Print(mb) != text {
			t.Fatalf("binary round trip: %v", err)
		}
		env := map[string]int64{}
		for _, fn := range m.Funcs {
			for _, a := range fn.Args {
				for _, s := range a.Type.Shape.Syms() {
					env[s] = 3
				}
			}
			for _, op := range fn.Body {
				op.Cost(env)
			}
		}
	})
}

// FuzzDecode decodes arbitrary bytes as a binary module: never a panic;
// what decodes and verifies prints, parses and encodes again.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(&Module{Name: "m"}))
	f.Add(Encode(allOpsModule(f)))
	nested, err := Parse("nested.ir", `module @m {

  composite @fuzz_inner(%x: [T] f32) -> ([T] f32) {
    %0 = neg %x : [T] f32
    return %0
  }

  composite @fuzz_outer(%x: [T] f32) -> ([T] f32) {
    %0 = fuzz_inner %x : [T] f32
    %1 = fuzz_inner %0 : [T] f32
    return %1
  }

  func @f(%a: [4] f32) -> ([4] f32) {
    %0 = fuzz_outer %a : [4] f32
    return %0
  }
}
`)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(Encode(nested))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		text := Print(m)
		if Verify(m) != nil {
			return
		}
		if _, err := Parse("fuzz.ir", text); err != nil {
			t.Fatalf("a decoded, verified module prints as text that does not parse: %v\n%s", err, text)
		}
		if m2, err := Decode(Encode(m)); err != nil || Print(m2) != text {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}
