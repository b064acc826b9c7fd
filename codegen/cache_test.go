package codegen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A kernel taken from the cache is the kernel the tools make; a damaged
// entry is a miss, not an error or a wrong kernel.
func TestKernelCache(t *testing.T) {
	m := planned(t, "models/deepseek_v3_tiny.deep", inference)
	dir := t.TempDir()
	tc := toolchain(t)
	opts := Options{Toolchain: tc, Funcs: []string{"decode"}, CacheDir: dir}
	cold, err := Compile(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(entries) != len(cold.Kernels) {
		t.Fatalf("%d cache entries for %d kernels", len(entries), len(cold.Kernels))
	}
	os.WriteFile(entries[0], []byte("{not json"), 0o644)
	warm, err := Compile(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range cold.Kernels {
		w := warm.Kernels[i]
		if k.Name != w.Name || k.PTX != w.PTX || !bytes.Equal(k.Cubin, w.Cubin) || !reflect.DeepEqual(k.Resources, w.Resources) {
			t.Fatalf("kernel %s differs when read from the cache", k.Name)
		}
	}
}

// Skipping the emission of regions whose signature was seen gives the
// programs that emitting every region gives.
func TestSignatureMemoIsExact(t *testing.T) {
	units := []Unit{{Module: planned(t, "models/deepseek_v3_tiny.deep", inference)}, {Module: trainPlanned(t, "models/deepseek_v3_tiny.deep", true), Funcs: []string{"train"}}}
	memo, err := CompileUnits(context.Background(), units, Options{})
	if err != nil {
		t.Fatal(err)
	}
	noMemo = true
	defer func() { noMemo = false }()
	full, err := CompileUnits(context.Background(), units, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(memo.Kernels) != len(full.Kernels) {
		t.Fatalf("%d kernels with the memo, %d without", len(memo.Kernels), len(full.Kernels))
	}
	for fn, steps := range full.Programs {
		a, _ := json.Marshal(steps)
		b, _ := json.Marshal(memo.Programs[fn])
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: programs differ with the memo", fn)
		}
	}
}
