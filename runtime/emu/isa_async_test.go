package emu_test

// Hopper asynchronous machinery, written from docs/ptx-isa-notes.md §11 (the
// PTX ISA restated): mbarrier (§11.1), cp.async (§11.5), cp.async.bulk
// (§11.6), cp.async.bulk.tensor with tensor maps (§11.2, §11.7), proxy fences
// (§11.8), and the emulator model of §11.0 (lazy completion: an access to a
// copy's destination before the wait that covers it is reported). Every
// expected value is computed here from the notes' rules, never from the
// emulator's code.

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// ---------------------------------------------------------------------------
// Launch helpers.

// asyncDev loads src on a fresh sanitizing device with the given seed.
func asyncDev(t *testing.T, seed uint64, src string) *emu.Device {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatalf("LoadPTX: %v\n%s", err, numbered(src))
	}
	return dev
}

// asyncRun launches kernel "k" as one CTA of block threads.
func asyncRun(dev *emu.Device, block uint32, args []uint64, raw [][]byte) error {
	_, err := dev.Run("k", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{block, 1, 1}, Args: args, RawArgs: raw})
	return err
}

// expectError accepts a LoadPTX refusal or any launch error (sanitizer
// report or trap): for undefined behaviour the notes leave the kind open.
func expectError(t *testing.T, what string, seed uint64, src string, block uint32, bufs ...[]byte) {
	t.Helper()
	dev := isaDevice(seed)
	if _, err := dev.LoadPTX(src); err != nil {
		t.Logf("%s: refused at load, as allowed: %v", what, err)
		return
	}
	var ptrs []uint64
	for _, b := range bufs {
		ptrs = append(ptrs, mustAlloc(t, dev, b).Ptr)
	}
	err := asyncRun(dev, block, ptrs, nil)
	if err == nil {
		t.Errorf("%s: expected a finding or an error, got none", what)
		return
	}
	t.Logf("%s: reported as expected: %v", what, err)
}

// errDetail spells out a sanitizer report's findings.
func errDetail(err error) string {
	if rep := asReport(err); rep != nil {
		return kinds(rep)
	}
	return fmt.Sprint(err)
}

// expectNone is expectClean with the findings spelled out.
func expectNone(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		if rep := asReport(err); rep != nil {
			t.Errorf("%s: expected no finding, got: %s", what, kinds(rep))
		} else {
			t.Errorf("%s: expected no error, got: %v", what, err)
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(1 + rng.Intn(255)) // never 0: zero fill stays visible
	}
	return b
}

func fillBytes(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// firstDiff returns a description of the first differing byte, or "".
func firstDiff(got, want []byte) string {
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			g := -1
			if i < len(got) {
				g = int(got[i])
			}
			return fmt.Sprintf("byte %d: want %#02x, got %#02x", i, want[i], g)
		}
	}
	return ""
}
