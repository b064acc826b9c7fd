package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/reference"
)

// docs/new-model.md adds Mistral 7B from its config.json. This test does
// each step of the guide with the files it shows (its `<!-- file: NAME -->`
// blocks) in a directory outside the repository, where `extends
// "llama3.deep"` finds the embedded model, and checks what the guide says:
// the published parameter count, a config.json Mistral's loader reads,
// logits equal with and without the cache and to the float64 reference,
// and that generate and train run.
func TestNewModelGuide(t *testing.T) {
	doc, err := os.ReadFile("../../docs/new-model.md")
	if err != nil {
		t.Fatal(err)
	}
	files := regexp.MustCompile("(?s)<!-- file: (\\S+) -->\n```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(files) != 2 {
		t.Fatalf("found %d file blocks in docs/new-model.md, want mistral.deep and mistral_tiny.deep", len(files))
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f[1]), []byte(f[2]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	full, tiny := filepath.Join(dir, "mistral.deep"), filepath.Join(dir, "mistral_tiny.deep")
	if out := mustDeepc(t, "stats", full); !strings.Contains(out, "7,241,732,096") {
		t.Errorf("stats mistral.deep does not say 7,241,732,096:\n%s", out)
	}
	ck := filepath.Join(dir, "ck")
	mustDeepc(t, "init", tiny, "--out", ck, "--format", "f32")
	data, err := os.ReadFile(filepath.Join(ck, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfgJSON map[string]any
	if err := json.Unmarshal(data, &cfgJSON); err != nil || cfgJSON["model_type"] != "mistral" || cfgJSON["sliding_window"] != 4.0 {
		t.Errorf("config.json %s (%v)", data, err)
	}
	seqs := [][]int{{1, 2, 3, 4, 5, 6, 7, 8}}
	var logits [2][]float32
	for i, extra := range [][]string{nil, {"--prefill", "3"}} {
		out := filepath.Join(dir, "logits.npy")
		mustDeepc(t, append([]string{"forward", tiny, "--checkpoint", ck, "--tokens", "1 2 3 4 5 6 7 8", "--out", out}, extra...)...)
		_, logits[i] = readNPY(t, out)
	}
	cfg, err := reference.LlamaConfigFromHF(data)
	if err != nil {
		t.Fatal(err)
	}
	tok, pos, seq := packed(seqs)
	want, err := reference.LlamaForward(cfg, rawWeights(t, ck), tok, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	if e1, e2 := maxRelErr(logits[0], want), maxRelErr(logits[1], want); e1 > 1e-5 || e2 > 1e-5 {
		t.Errorf("logits differ from the float64 reference by %.3g (full), %.3g (prefill 3)", e1, e2)
	}
	if cfg.Window != 4 {
		t.Errorf("the reference read window %d", cfg.Window)
	}
	mustDeepc(t, "generate", tiny, "--checkpoint", ck, "--prompt", "abcabc", "--max-tokens", "16", "--speculative", "lookup")
	mustDeepc(t, "train", tiny, "--steps", "2", "--batch", "2", "--seq", "32", "--eval-every", "0", "--data", "../../docs/*.md", "--out", filepath.Join(dir, "runs", "mistral"))
}
