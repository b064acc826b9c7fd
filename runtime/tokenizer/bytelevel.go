package tokenizer

import (
	"fmt"
	"strings"
)

// The byte-to-character table of byte-level BPE (GPT-2's): every byte value
// stands for one printable character, so that tokens are strings without
// spaces or control characters. Printable Latin-1 bytes (! to ~, ¡ to ¬,
// ® to ÿ) stand for themselves; the other 68 bytes, in increasing order, take
// U+0100, U+0101, ... in turn. A space (0x20) becomes U+0120 'Ġ', a newline
// U+010A 'Ċ'.
var (
	byteToRune [256]rune
	runeToByte map[rune]byte
)

func init() {
	runeToByte = make(map[rune]byte, 256)
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		switch {
		case '!' <= b && b <= '~', 0xA1 <= b && b <= 0xAC, 0xAE <= b && b <= 0xFF:
			byteToRune[b] = rune(b)
		default:
			byteToRune[b] = next
			next++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelString returns the byte-level form of raw bytes.
func byteLevelString(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToRune[s[i]])
	}
	return sb.String()
}

// fromByteLevel returns the bytes a byte-level token stands for, or false when
// the token has a character outside the table.
func fromByteLevel(tok string) ([]byte, bool) {
	out := make([]byte, 0, len(tok))
	for _, r := range tok {
		b, ok := runeToByte[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// ByteLevel ids.
const (
	ByteLevelBOS = 256
	ByteLevelEOS = 257
	// ByteLevelMinVocab is the smallest vocabulary: 256 bytes, BOS, EOS.
	ByteLevelMinVocab = 258
)

// ByteLevel is the tokenizer of tiny models: id b < 256 is the byte b, 256 is
// <bos>, 257 is <eos>, and ids from 258 up to the vocabulary size are special
// tokens named <reserved_N> that a model may emit but text never encodes to.
type ByteLevel struct {
	vocab int
}

var _ Tokenizer = (*ByteLevel)(nil)

// NewByteLevel returns a byte-level tokenizer with vocabSize ids (at least
// ByteLevelMinVocab).
func NewByteLevel(vocabSize int) (*ByteLevel, error) {
	if vocabSize < ByteLevelMinVocab {
		return nil, fmt.Errorf("tokenizer: a byte-level vocabulary needs at least %d ids (256 bytes, <bos>, <eos>), got %d", ByteLevelMinVocab, vocabSize)
	}
	return &ByteLevel{vocab: vocabSize}, nil
}

func (t *ByteLevel) special(id int) string {
	switch id {
	case ByteLevelBOS:
		return "<bos>"
	case ByteLevelEOS:
		return "<eos>"
	}
	return fmt.Sprintf("<reserved_%d>", id)
}

// Encode returns one id per byte; "<bos>" and "<eos>" written in the text
// become their ids.
func (t *ByteLevel) Encode(text string) []int {
	ids := make([]int, 0, len(text))
	for i := 0; i < len(text); {
		if text[i] == '<' {
			switch {
			case strings.HasPrefix(text[i:], "<bos>"):
				ids = append(ids, ByteLevelBOS)
				i += len("<bos>")
				continue
			case strings.HasPrefix(text[i:], "<eos>"):
				ids = append(ids, ByteLevelEOS)
				i += len("<eos>")
				continue
			}
		}
		ids = append(ids, int(text[i]))
		i++
	}
	return ids
}

// EncodeErr is Encode; it never fails.
func (t *ByteLevel) EncodeErr(text string) ([]int, error) { return t.Encode(text), nil }

// Decode returns the bytes of ids; special ids appear by name unless
// opt.SkipSpecial.
func (t *ByteLevel) Decode(ids []int, opt DecodeOptions) (string, error) {
	var sb strings.Builder
	sb.Grow(len(ids))
	for _, id := range ids {
		switch {
		case id < 0 || id >= t.vocab:
			return "", &UnknownIDError{ID: id, VocabSize: t.vocab}
		case id < 256:
			sb.WriteByte(byte(id))
		case !opt.SkipSpecial:
			sb.WriteString(t.special(id))
		}
	}
	return sb.String(), nil
}

func (t *ByteLevel) BOS() (int, bool) { return ByteLevelBOS, true }
func (t *ByteLevel) EOS() (int, bool) { return ByteLevelEOS, true }
func (t *ByteLevel) VocabSize() int   { return t.vocab }
