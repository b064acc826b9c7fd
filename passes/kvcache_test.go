package passes

import (
	"bytes"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// Standard attention gets a cache of its key/value heads: grouped-query
// attention (4 query heads over 2 key/value heads of 8 and 6 dims) caches
// rows of 2·(8+6) values. A non-causal attention gets no cached variant,
// said so: a token would need keys that come later.
func TestKVCacheStandardAttention(t *testing.T) {
	src := func(causal string) string {
		return `module @m {
  func @forward(%q: [T, 4, 8] f32, %k: [T, 2, 8] f32, %v: [T, 2, 6] f32, %pos: [T] i32, %seq: [T] i32) -> ([T, 4, 6] f32) {
    %0 = attention %q, %k, %v, %pos, %seq {scale = 0.5, window = 3` + causal + `} : [T, 4, 6] f32
    return %0
  }
}`
	}
	m := parse(t, src(""))
	var out bytes.Buffer
	if _, err := runKVCache(&Context{Out: &out}, m); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{PrefillFunc, DecodeFunc} {
		f := m.Func(name)
		if f == nil {
			t.Fatalf("no %s: %s", name, out.String())
		}
		cache := f.Args[len(f.Args)-1]
		if cache.Name != CacheArg(0) || cache.Type.Shape[1] != ir.C(28) {
			t.Errorf("%s's cache %s: %s, want [C, 28]", name, cache.Name, cache.Type)
		}
		var ac *ir.Op
		for _, op := range f.Body {
			if op.Is(ir.OpAttentionCache) {
				ac = op
			}
		}
		if ac == nil || ac.Args[1].Type.Shape[1] != ir.C(2) || ac.Attrs["window"] != int64(3) {
			t.Errorf("%s: attention_cache %v", name, ac)
		}
	}
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}

	m = parse(t, src(", causal = false"))
	out.Reset()
	if _, err := runKVCache(&Context{Out: &out}, m); err != nil {
		t.Fatal(err)
	}
	if m.Func(PrefillFunc) != nil || !strings.Contains(out.String(), "has a non-causal attention") {
		t.Errorf("non-causal attention: prefill %v, output %q", m.Func(PrefillFunc) != nil, out.String())
	}
}
