package train

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/tokenizer"
)

func testCorpus(t *testing.T) *Corpus {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < 60; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%d", i%5))
		os.MkdirAll(sub, 0o755)
		os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%d.go", i)), []byte(fmt.Sprintf("package p%d // file %d of the test corpus\n", i, i)), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "skip.txt"), []byte("not matched"), 0o644)
	tok, err := tokenizer.NewByteLevel(512)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(filepath.Join(dir, "**", "*.go"), tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCorpusSplit(t *testing.T) {
	c := testCorpus(t)
	if len(c.Train)+len(c.Val) != 60 || len(c.Val) == 0 {
		t.Fatalf("%d train + %d val files, want 60 with some held out", len(c.Train), len(c.Val))
	}
	again := testCorpus(t)
	if !reflect.DeepEqual(c.Val, again.Val) {
		t.Error("the split is not deterministic")
	}
}

// Reading on from a saved cursor gives exactly the batches an
// uninterrupted reader gives, across windows and epochs.
func TestReaderResumes(t *testing.T) {
	c := testCorpus(t)
	const B, S = 3, 16
	r, err := c.NewReader(9, Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	var all []Batch
	var cursors []Cursor
	for i := 0; i < 300; i++ { // > one window, > one epoch of this corpus
		cursors = append(cursors, r.Cursor())
		b, err := r.Next(B, S)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	if r.Cursor().Epoch == 0 {
		t.Fatal("the test never left the first epoch")
	}
	for _, at := range []int{0, 1, 85, 86, 170, 299} {
		rr, err := c.NewReader(9, cursors[at])
		if err != nil {
			t.Fatal(err)
		}
		for i := at; i < len(all); i++ {
			b, err := rr.Next(B, S)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b, all[i]) {
				t.Fatalf("resumed at batch %d (cursor %+v): batch %d differs", at, cursors[at], i)
			}
		}
	}
	// Batches mix files: the first batch's sequences come from different
	// places in the stream.
	if reflect.DeepEqual(all[0].Seqs[0], all[0].Seqs[1]) {
		t.Error("the first batch repeats a sequence")
	}
}

// A cursor from a hostile or mismatched resume state is refused before
// it indexes anything (issue 15: a cursor beyond the corpus panicked).
func TestReaderRefusesBadCursors(t *testing.T) {
	c := testCorpus(t)
	n := len(c.Train)
	for _, cur := range []Cursor{
		{File: n}, {File: 1 << 40}, {File: -1}, {Token: -1}, {Epoch: -3}, {Window: -1},
		{Used: -1}, {Used: ShuffleWindow}, {Used: 1 << 62},
	} {
		if _, err := c.NewReader(1, cur); err == nil || !strings.Contains(err.Error(), "data cursor") {
			t.Errorf("cursor %+v: %v, want a refusal", cur, err)
		}
	}
	// A token offset past the end of its file is found on the first read.
	r, err := c.NewReader(1, Cursor{Token: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(1, 8); err == nil || !strings.Contains(err.Error(), "past the end") {
		t.Errorf("token past the end: %v", err)
	}
}
