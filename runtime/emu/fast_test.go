package emu

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"testing"

	"github.com/deepc-dev/deepc/internal/testseed"
)

// decodeOne decodes "op %x0, %x1, ..." (n sources) in a kernel of its own.
func decodeOne(t *testing.T, op string, n int) *inst {
	t.Helper()
	args := "%x0"
	for i := 1; i <= n; i++ {
		args += fmt.Sprintf(", %%x%d", i)
	}
	src := fmt.Sprintf(".version 8.4\n.target sm_90a\n.address_size 64\n.visible .entry k()\n{\n.reg .b64 %%x<4>;\n%s %s;\nret;\n}\n", op, args)
	m, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return &m.Kernels["k"].code.insts[0]
}

// Every generated lane loop computes what its instruction's builder does,
// on random operands (special values included) and partial masks.
func TestFastOpsMatchBuilders(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	specials := []uint64{0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 1 << 63, ^uint64(0), 31, 32, 33, 63, 64, 65,
		uint64(math.Float32bits(float32(math.NaN()))), uint64(math.Float32bits(float32(math.Inf(1)))), 0x00000001, 0x80000001, 0x3f800000, 0xbf800000, 0x7f7fffff}
	draw := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return specials[rng.IntN(len(specials))]
		case 1:
			return uint64(rng.Uint32())
		case 2:
			return uint64(math.Float32bits(float32(rng.NormFloat64())))
		}
		return rng.Uint64()
	}
	names := make([]string, 0, len(fastOps))
	for k := range fastOps {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, op := range names {
		f := fastOps[op]
		useFast = false
		ref := decodeOne(t, op, f.n)
		useFast = true
		fast := decodeOne(t, op, f.n)
		for trial := 0; trial < 200; trial++ {
			w := &warp{r: make([]uint64, 4*warpSize)}
			for i := range w.r {
				w.r[i] = draw()
			}
			w2 := &warp{r: append([]uint64(nil), w.r...)}
			m := uint32(fullMask)
			if trial%2 == 1 {
				m = rng.Uint32()
			}
			ref.exec(w, ref, m)
			fast.exec(w2, fast, m)
			for i := range w.r {
				if w.r[i] != w2.r[i] {
					t.Fatalf("%s: register %d lane %d: builder %#x, generated %#x", op, i/warpSize, i%warpSize, w.r[i], w2.r[i])
				}
			}
		}
	}
}

// fast_gen.go is what its generator writes.
func TestFastGenIsCurrent(t *testing.T) {
	out := t.TempDir() + "/fast_gen.go"
	cmd := exec.Command("go", "run", "./internal/genfast", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/genfast: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("fast_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("fast_gen.go is stale: run go generate ./runtime/emu")
	}
}
