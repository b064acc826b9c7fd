package tokenizer

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// Normalizers may not grow a text without bound: a chain of Replace "a" by
// "aa" would double it at every step, a long Prepend add its length to
// every piece. EncodeErr reports it, Encode leaves the text as the last
// normalizer within the limit left it.
func TestNormalizerGrowth(t *testing.T) {
	doubling := func(n int) func(f map[string]any) {
		return func(f map[string]any) {
			var seq []any
			for i := 0; i < n; i++ {
				seq = append(seq, map[string]any{"type": "Replace", "pattern": map[string]any{"String": "a"}, "content": "aa"})
			}
			f["normalizer"] = map[string]any{"type": "Sequence", "normalizers": seq}
		}
	}
	prepend := func(f map[string]any) {
		f["normalizer"] = map[string]any{"type": "Prepend", "prepend": strings.Repeat("p", 10000)}
	}
	for _, c := range []struct {
		name, text, norm, want string
		mod                    func(f map[string]any)
	}{
		// 1000 a's may grow to 8×1000+4096 = 12096 bytes: 8000 after three
		// doublings, 16000 refused at the fourth.
		{"Replace chain", strings.Repeat("a", 1000), "Replace", strings.Repeat("a", 8000), doubling(40)},
		{"long Prepend", "x", "Prepend", "x", prepend},
	} {
		h := tiny(t, c.mod)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ids, err := h.EncodeErr(c.text)
		runtime.ReadMemStats(&after)
		var ge *GrowthError
		if !errors.As(err, &ge) || ge.Normalizer != c.norm || !strings.Contains(err.Error(), "grow") {
			t.Errorf("%s: error %v, want a *GrowthError from %s", c.name, err, c.norm)
		}
		if got, _ := h.Decode(ids, DecodeOptions{}); got != c.want {
			t.Errorf("%s: the ids decode to %d bytes, want %d", c.name, len(got), len(c.want))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%s: encoding allocated %d MB", c.name, alloc>>20)
		}
	}
	// Growth within the limit is no error.
	h := tiny(t, doubling(3))
	if _, err := h.EncodeErr(strings.Repeat("a", 1000)); err != nil {
		t.Errorf("8 times: %v", err)
	}
}
