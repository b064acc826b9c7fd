package models

import (
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
)

// FuzzSetsFromHFConfig feeds arbitrary bytes as config.json (issue 15).
// Whatever the input: no panic; an accepted config gives only known DSL
// keys, and the tiny model compiles with them or refuses with an error
// (the config's sizes are bounded, so this stays quick).
func FuzzSetsFromHFConfig(f *testing.F) {
	f.Add([]byte(v3Config))
	keys := []string{"weight_dtype", "weight_quant"}
	for _, k := range v3Contract(f).Map {
		keys = append(keys, k)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := SetsFromHFConfig("deepseek_v3.deep", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config.json") {
				t.Fatalf("error not naming config.json: %v", err)
			}
			return
		}
		for _, s := range sets {
			k, _, ok := strings.Cut(s, "=")
			if !ok || !slices.Contains(keys, k) {
				t.Fatalf("set %q is not key=value with a known key", s)
			}
		}
		if _, err := dsl.CompileFile("deepseek_v3_tiny.deep", dsl.Options{Sets: sets, ReadFile: Read}); err != nil {
			return
		}
	})
}
