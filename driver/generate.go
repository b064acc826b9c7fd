package driver

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
)

// generationTokenizer picks the tokenizer: the flag, the checkpoint's
// tokenizer.json, or a byte-level one the size of the model's vocabulary.
func GenerationTokenizer(spec, dir string, m *infer.Model) (tokenizer.Tokenizer, error) {
	return tokenizer.Open(tokenizerSpec(spec, dir, vocabSize(m)))
}

// tokenizerSpec is spec, or when it is empty the checkpoint dir's
// tokenizer.json (read as a file of that directory: no link followed),
// or the byte-level tokenizer of vocab ids when there is none.
func tokenizerSpec(spec, dir string, vocab int) string {
	switch {
	case spec != "":
		return spec
	case fileExists(filepath.Join(dir, "tokenizer.json")):
		return dir
	}
	return fmt.Sprintf("byte:%d", vocab)
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// vocabSize reads the vocabulary size off the forward function's logits.
func vocabSize(m *infer.Model) int {
	f := m.Module.Func("forward")
	if f == nil || len(f.Results) == 0 {
		return 0
	}
	s := f.Results[0].Type.Shape
	return int(s[len(s)-1].N)
}

// TrimEOS drops a final eos.
func TrimEOS(ids []int, eos int) []int {
	if n := len(ids); n > 0 && ids[n-1] == eos {
		return ids[:n-1]
	}
	return ids
}

// Streamer prints generated text as it grows, holding back an incomplete
// UTF-8 character until the token that completes it.
type Streamer struct {
	W       io.Writer
	Tok     tokenizer.Tokenizer
	ids     []int
	printed int
}

// Add prints what token id adds to the text (nothing for eos).
func (s *Streamer) Add(id, eos int) {
	if id == eos {
		return
	}
	s.ids = append(s.ids, id)
	text, err := s.Tok.Decode(s.ids, tokenizer.DecodeOptions{SkipSpecial: true})
	if err != nil {
		return
	}
	end := len(text)
	for end > s.printed && !utf8.ValidString(text[s.printed:end]) {
		end--
	}
	if end > s.printed {
		fmt.Fprint(s.W, text[s.printed:end])
		s.printed = end
	}
}

// Flush prints what is held back, invalid UTF-8 replaced.
func (s *Streamer) Flush() {
	text, err := s.Tok.Decode(s.ids, tokenizer.DecodeOptions{SkipSpecial: true})
	if err == nil && len(text) > s.printed {
		fmt.Fprint(s.W, strings.ToValidUTF8(text[s.printed:], "\uFFFD"))
	}
}
