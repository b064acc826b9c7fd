package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// loadBody writes body as a tokenizer.json and loads it, and reports the
// bytes allocated meanwhile.
func loadBody(t *testing.T, body []byte) (*HF, uint64, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h, err := LoadHF(path)
	runtime.ReadMemStats(&after)
	return h, after.TotalAlloc - before.TotalAlloc, err
}

func withVocab(tok string, id any) func(f map[string]any) {
	return func(f map[string]any) { model(f)["vocab"].(map[string]any)[tok] = id }
}

func withAdded(entry map[string]any) func(f map[string]any) {
	return func(f map[string]any) { f["added_tokens"] = append(f["added_tokens"].([]any), entry) }
}

// Ids are checked before any table sized by the largest one is made: a
// hostile id is refused with an error naming the file, the token and the
// id, having allocated little.
func TestHostileIDs(t *testing.T) {
	long := strings.Repeat("q", 500)
	for _, c := range []struct {
		name string
		mod  func(f map[string]any)
		want []string // in the error, besides the file's path
	}{
		{"id 2e9", withVocab("zz", json.Number("2000000000")), []string{`vocab: token "zz"`, "id 2000000000 is far above", "tables are sized by the largest id"}},
		{"id 2^63-1", withVocab("zz", json.Number("9223372036854775807")), []string{`token "zz"`, "id 9223372036854775807 does not fit in 32 bits"}},
		{"id 2^32", withVocab("zz", json.Number("4294967296")), []string{`token "zz"`, "id 4294967296 does not fit in 32 bits"}},
		{"id past int64", withVocab("zz", json.Number("99999999999999999999")), []string{`token "zz"`, "id 99999999999999999999 does not fit"}},
		{"id -1", withVocab("zz", json.Number("-1")), []string{`token "zz"`, "negative id -1"}},
		{"id 1e30", withVocab("zz", json.Number("1e30")), []string{`token "zz"`, `id "1e30" is not an integer`}},
		{"id 1.5", withVocab("zz", json.Number("1.5")), []string{`token "zz"`, `id "1.5" is not an integer`}},
		{"id as a string", withVocab("zz", "7"), []string{`token "zz"`, `is not an integer`}},
		{"id null", withVocab("zz", nil), []string{`token "zz"`, `id "null" is not an integer`}},
		{"long token", withVocab(long, json.Number("2000000000")), []string{`token "` + strings.Repeat("q", 40) + `"…`, "id 2000000000"}},
		{"duplicate id", withVocab("zz", json.Number("65")), []string{`tokens "A" and "zz" both have id 65`}},
		{"added id 2e9", withAdded(map[string]any{"id": json.Number("2000000000"), "content": "<big>"}),
			[]string{`added_tokens[7] "<big>"`, "id 2000000000 is far above"}},
		{"added id 2^63-1", withAdded(map[string]any{"id": json.Number("9223372036854775807"), "content": "<big>"}),
			[]string{`added_tokens[7] "<big>"`, "does not fit in 32 bits"}},
		{"added id -5", withAdded(map[string]any{"id": json.Number("-5"), "content": "<neg>"}), []string{`added_tokens[7] "<neg>"`, "negative id -5"}},
		{"added id 1.5", withAdded(map[string]any{"id": json.Number("1.5"), "content": "<frac>"}), []string{`added_tokens[7] "<frac>"`, `id "1.5" is not an integer`}},
		{"added no id", withAdded(map[string]any{"content": "<none>"}), []string{`added_tokens[7] "<none>"`, "no id"}},
	} {
		body := tinyFile(t, c.mod)
		_, alloc, err := loadBody(t, body)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "tokenizer.json") {
			t.Errorf("%s: error %q does not name the file", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q, want it to contain %q", c.name, msg, w)
			}
		}
		if strings.Contains(msg, long) {
			t.Errorf("%s: the error quotes a 500-byte token whole", c.name)
		}
		// The tables of the tiny tokenizer are a few KB; 64 MB would be
		// an id table sized by a hostile id.
		if alloc > 64<<20 {
			t.Errorf("%s: loading allocated %d MB", c.name, alloc>>20)
		}
	}
}

// The rule for the largest id: 2×entries + 1024 is accepted, one more is
// not.
func TestLargestIDRule(t *testing.T) {
	base := tiny(t, nil)
	entries := len(base.model.vocab) + len(base.added) + 1 // with the token added below
	limit := 2*entries + idSlack
	for _, c := range []struct {
		id int
		ok bool
	}{{limit, true}, {limit + 1, false}} {
		body := tinyFile(t, withAdded(map[string]any{"id": c.id, "content": "<far>"}))
		h, err := ParseHF(body)
		if (err == nil) != c.ok {
			t.Errorf("largest id %d with %d entries: error %v, want ok=%v", c.id, entries, err, c.ok)
			continue
		}
		if c.ok {
			if h.VocabSize() != limit+1 {
				t.Errorf("VocabSize = %d, want %d", h.VocabSize(), limit+1)
			}
			if got := h.Encode("<far>"); len(got) != 1 || got[0] != limit {
				t.Errorf("Encode(<far>) = %v, want [%d]", got, limit)
			}
		}
	}
}
