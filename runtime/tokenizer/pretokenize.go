package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// component is the JSON of one normalizer or pre-tokenizer.
type component struct {
	Type          string            `json:"type"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior         string `json:"behavior"`
	Invert           bool   `json:"invert"`
	Content          string `json:"content"`
	Prepend          string `json:"prepend"`
	AddPrefixSpace   bool   `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
	IndividualDigits bool   `json:"individual_digits"`
	StripLeft        *bool  `json:"strip_left"`
	StripRight       *bool  `json:"strip_right"`
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// pattern compiles a Split or Replace pattern: a regex, or a literal string.
func (c *component) pattern() (*regex, error) {
	switch {
	case c.Pattern == nil:
		return nil, fmt.Errorf("%s: no pattern", c.Type)
	case c.Pattern.Regex != nil:
		return compileRegex(*c.Pattern.Regex)
	case c.Pattern.String != nil:
		return literalRegex(*c.Pattern.String), nil
	}
	return nil, fmt.Errorf("%s: pattern has neither Regex nor String", c.Type)
}

// literalRegex matches s itself.
func literalRegex(s string) *regex {
	var sb strings.Builder
	for _, r := range s {
		fmt.Fprintf(&sb, `\u{%x}`, r)
	}
	return mustCompileRegex(sb.String())
}

// ---- normalizers ----

type normalizer func(s string, sc *scratch) string

func parseNormalizer(raw json.RawMessage) ([]normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch c.Type {
	case "Sequence":
		var out []normalizer
		for _, sub := range c.Normalizers {
			n, err := parseNormalizer(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, n...)
		}
		return out, nil
	case "Lowercase":
		return []normalizer{func(s string, _ *scratch) string { return strings.ToLower(s) }}, nil
	case "Strip":
		left, right := c.StripLeft == nil || *c.StripLeft, c.StripRight == nil || *c.StripRight
		return []normalizer{func(s string, _ *scratch) string {
			if left {
				s = strings.TrimLeftFunc(s, isSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, isSpace)
			}
			return s
		}}, nil
	case "Prepend":
		p := c.Prepend
		return []normalizer{func(s string, _ *scratch) string {
			if s == "" {
				return s
			}
			return p + s
		}}, nil
	case "Replace":
		re, err := c.pattern()
		if err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
		content := c.Content
		return []normalizer{func(s string, sc *scratch) string {
			var sb strings.Builder
			prev := 0
			re.findAll(s, &sc.stack, func(start, end int) {
				sb.WriteString(s[prev:start])
				sb.WriteString(content)
				prev = end
			})
			if prev == 0 && sb.Len() == 0 {
				return s
			}
			sb.WriteString(s[prev:])
			return sb.String()
		}}, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported (supported: Sequence, Lowercase, Strip, Prepend, Replace)", c.Type)
}

// ---- pre-tokenizers ----

// A stage splits each piece into smaller pieces, appending them to out.
type stage interface {
	split(piece string, sc *scratch, out []string) []string
}

// parsePreTokenizer flattens the pre-tokenizer into its stages and reports
// whether it ends with ByteLevel.
func parsePreTokenizer(raw json.RawMessage) ([]stage, bool, error) {
	if isNull(raw) {
		return nil, false, nil
	}
	var stages []stage
	byteLevel := false
	var walk func(raw json.RawMessage) error
	walk = func(raw json.RawMessage) error {
		var c component
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("pre_tokenizer: %w", err)
		}
		if byteLevel {
			return fmt.Errorf("pre_tokenizer: %s after ByteLevel is not supported (ByteLevel must come last)", c.Type)
		}
		switch c.Type {
		case "Sequence":
			for _, sub := range c.Pretokenizers {
				if err := walk(sub); err != nil {
					return err
				}
			}
		case "Split":
			re, err := c.pattern()
			if err != nil {
				return fmt.Errorf("pre_tokenizer: %w", err)
			}
			b, err := parseBehavior(c.Behavior)
			if err != nil {
				return err
			}
			stages = append(stages, &splitStage{re: re, behavior: b, invert: c.Invert})
		case "Digits":
			stages = append(stages, digitsStage{individual: c.IndividualDigits})
		case "ByteLevel":
			st := &byteLevelStage{prefixSpace: c.AddPrefixSpace}
			if c.UseRegex == nil || *c.UseRegex {
				st.re = gpt2Regex()
			}
			stages = append(stages, st)
			byteLevel = true
		default:
			return fmt.Errorf("pre_tokenizer type %q is not supported (supported: Sequence, Split, Digits, ByteLevel)", c.Type)
		}
		return nil
	}
	if err := walk(raw); err != nil {
		return nil, false, err
	}
	return stages, byteLevel, nil
}

// The split pattern of ByteLevel's use_regex, in the form the JavaScript
// port writes it.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

var gpt2Regex = sync.OnceValue(func() *regex { return mustCompileRegex(gpt2Pattern) })

type behavior uint8

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

func parseBehavior(s string) (behavior, error) {
	switch strings.ToLower(s) {
	case "removed":
		return removed, nil
	case "isolated":
		return isolated, nil
	case "mergedwithprevious":
		return mergedWithPrevious, nil
	case "mergedwithnext":
		return mergedWithNext, nil
	case "contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("pre_tokenizer: unknown Split behavior %q", s)
}

// splitStage is Hugging Face's Split: the pattern's matches are delimiters
// (with invert, the matches are the content and what lies between them the
// delimiters), and behavior says what becomes of a delimiter:
//
//	Removed             dropped
//	Isolated            a piece of its own
//	MergedWithPrevious  appended to the piece before it
//	MergedWithNext      prepended to the piece after it
//	Contiguous          a piece of its own, runs of delimiters merged
//
// Empty pieces are dropped. (The JavaScript port implements Isolated and
// Removed without invert, the only combinations DeepSeek-V3 and its peers
// declare; the others follow the Rust library's rules.)
type splitStage struct {
	re       *regex
	behavior behavior
	invert   bool
}

type segment struct {
	start, end int
	delim      bool
}

func (s *splitStage) split(piece string, sc *scratch, out []string) []string {
	if s.behavior == isolated && !s.invert {
		prev := 0
		s.re.findAll(piece, &sc.stack, func(start, end int) {
			if start > prev {
				out = append(out, piece[prev:start])
			}
			if end > start {
				out = append(out, piece[start:end])
			}
			prev = end
		})
		if prev < len(piece) {
			out = append(out, piece[prev:])
		}
		return out
	}
	// The general case: segments covering the piece, matches and gaps.
	segs := sc.segs[:0]
	prev := 0
	s.re.findAll(piece, &sc.stack, func(start, end int) {
		if end == start {
			return
		}
		if start > prev {
			segs = append(segs, segment{prev, start, s.invert})
		}
		segs = append(segs, segment{start, end, !s.invert})
		prev = end
	})
	if prev < len(piece) {
		segs = append(segs, segment{prev, len(piece), s.invert})
	}
	sc.segs = segs
	var res []segment // pieces, built in place over segs
	switch s.behavior {
	case removed:
		for _, g := range segs {
			if !g.delim {
				res = append(res, g)
			}
		}
	case isolated:
		res = segs
	case mergedWithPrevious:
		prevDelim := false
		for _, g := range segs {
			if g.delim && !prevDelim && len(res) > 0 {
				res[len(res)-1].end = g.end
			} else {
				res = append(res, g)
			}
			prevDelim = g.delim
		}
	case mergedWithNext:
		prevDelim := false
		for i := len(segs) - 1; i >= 0; i-- {
			g := segs[i]
			if g.delim && !prevDelim && len(res) > 0 {
				res[len(res)-1].start = g.start
			} else {
				res = append(res, g)
			}
			prevDelim = g.delim
		}
		for i, j := 0, len(res)-1; i < j; i, j = i+1, j-1 {
			res[i], res[j] = res[j], res[i]
		}
	case contiguous:
		prevDelim := false
		for i, g := range segs {
			if i > 0 && g.delim && prevDelim {
				res[len(res)-1].end = g.end
			} else {
				res = append(res, g)
			}
			prevDelim = g.delim
		}
	}
	for _, g := range res {
		out = append(out, piece[g.start:g.end])
	}
	return out
}

// digitsStage is Hugging Face's Digits: runs of ASCII digits (each digit,
// with individual_digits) become pieces of their own.
type digitsStage struct{ individual bool }

func (d digitsStage) split(piece string, _ *scratch, out []string) []string {
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	for i := 0; i < len(piece); {
		j := i + 1
		if isDigit(piece[i]) {
			for !d.individual && j < len(piece) && isDigit(piece[j]) {
				j++
			}
		} else {
			for j < len(piece) && !isDigit(piece[j]) {
				j++
			}
		}
		out = append(out, piece[i:j])
		i = j
	}
	return out
}

// byteLevelStage is the ByteLevel pre-tokenizer: an optional leading space,
// GPT-2's split pattern when use_regex, and the byte-to-character mapping,
// which the BPE model applies (pieces stay raw bytes here).
type byteLevelStage struct {
	prefixSpace bool
	re          *regex // nil without use_regex
}

func (b *byteLevelStage) split(piece string, sc *scratch, out []string) []string {
	if b.prefixSpace && !strings.HasPrefix(piece, " ") {
		piece = " " + piece
	}
	if b.re == nil {
		return append(out, piece)
	}
	b.re.findAll(piece, &sc.stack, func(start, end int) {
		if end > start {
			out = append(out, piece[start:end])
		}
	})
	return out
}

// trimSpaceLeft and trimSpaceRight are ECMAScript's trimStart and trimEnd.
func trimSpaceLeft(s string) string  { return strings.TrimLeftFunc(s, isSpace) }
func trimSpaceRight(s string) string { return strings.TrimRightFunc(s, isSpace) }
