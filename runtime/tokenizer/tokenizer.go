// Package tokenizer turns text into token ids and back.
//
// Two tokenizers implement the Tokenizer interface:
//
//   - HF loads a Hugging Face tokenizer.json holding a byte-level BPE model,
//     as DeepSeek-V3 ships: added and special tokens, the normalizer, the
//     pre-tokenizer's split rules (Sequence, Split with its regex and
//     behavior, ByteLevel, Digits) and the ByteLevel decoder. Its ids equal
//     those of the JavaScript port of Hugging Face tokenizers
//     (@lenml/tokenizers) on DeepSeek-V3's tokenizer.json; the tests check
//     that on a varied corpus.
//   - ByteLevel is the tokenizer of tiny demo models: ids 0..255 are bytes,
//     then <bos> and <eos>.
//
// Encode never adds BOS or EOS: a caller that wants them prepends BOS() and
// appends EOS() itself. Decode returns the bytes the tokens stand for, so
// Decode(Encode(s)) == s for every string s, valid UTF-8 or not. A prefix of
// a token sequence can end inside a multi-byte character; a streaming caller
// holds back an incomplete UTF-8 tail until the next token completes it.
package tokenizer

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Tokenizer maps text to token ids and back. Implementations are safe for
// concurrent use.
type Tokenizer interface {
	// Encode returns the ids of text's tokens. Added and special tokens
	// written in the text (such as "<｜end▁of▁sentence｜>") become their ids.
	Encode(text string) []int
	// EncodeErr is Encode that also reports a tokenizer that could not
	// follow its own rules on text (HF.EncodeErr); the ids are Encode's.
	EncodeErr(text string) ([]int, error)
	// Decode returns the text of ids; an id outside the vocabulary is an
	// error.
	Decode(ids []int, opt DecodeOptions) (string, error)
	// BOS and EOS return the beginning- and end-of-sequence ids, if any.
	BOS() (int, bool)
	EOS() (int, bool)
	// VocabSize is one more than the largest id.
	VocabSize() int
}

// DecodeOptions controls Decode.
type DecodeOptions struct {
	// SkipSpecial leaves special tokens (BOS, EOS, padding, ...) out of the
	// text. Without it they appear as their names.
	SkipSpecial bool
}

// UnknownIDError reports an id that names no token.
type UnknownIDError struct {
	ID        int
	VocabSize int
}

func (e *UnknownIDError) Error() string {
	return fmt.Sprintf("tokenizer: unknown token id %d (ids run 0..%d)", e.ID, e.VocabSize-1)
}

// Open returns the tokenizer that spec names:
//
//	byte          the byte-level tokenizer with the smallest vocabulary (258)
//	byte:N        the byte-level tokenizer with a vocabulary of N ids
//	FILE          a Hugging Face tokenizer.json
//	DIR           DIR/tokenizer.json (a checkpoint directory)
func Open(spec string) (Tokenizer, error) {
	if spec == "byte" {
		return NewByteLevel(ByteLevelMinVocab)
	}
	if n, ok := strings.CutPrefix(spec, "byte:"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("tokenizer %q: the vocabulary size after byte: must be an integer", spec)
		}
		return NewByteLevel(v)
	}
	path := spec
	// Stat opens nothing, so a FIFO cannot block it; LoadHF reads the
	// file through safefile.
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return LoadHFIn(path)
	}
	return LoadHF(path)
}
