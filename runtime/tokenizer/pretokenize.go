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

// A Sequence may nest Sequences: every level is decoded again from its
// JSON, so deep nesting costs the file's size once per level, and every
// stage runs over every piece of every Encode. Real tokenizers have a
// handful of components in one Sequence.
const (
	maxComponentDepth = 8
	maxComponents     = 64
)

// pattern compiles a Split or Replace pattern, a regex or a literal string,
// within the tokenizer's quota.
func (c *component) pattern(q *patternQuota) (*regex, error) {
	switch {
	case c.Pattern == nil:
		return nil, fmt.Errorf("%s: no pattern", c.Type)
	case c.Pattern.Regex != nil:
		return compileRegexQuota(*c.Pattern.Regex, q)
	case c.Pattern.String != nil:
		return literalRegex(*c.Pattern.String, q)
	}
	return nil, fmt.Errorf("%s: pattern has neither Regex nor String", c.Type)
}

// literalRegex matches s itself.
func literalRegex(s string, q *patternQuota) (*regex, error) {
	var sb strings.Builder
	for _, r := range s {
		fmt.Fprintf(&sb, `\u{%x}`, r)
	}
	return compileRegexQuota(sb.String(), q)
}

// ---- normalizers ----

// A normalizer returns s normalized, no longer than limit bytes. An error
// is a *BacktrackError, with s normalized up to where the pattern gave up,
// or a *GrowthError, with s as it was.
type normalizer func(s string, sc *scratch, limit int) (string, error)

// Replace and Prepend add their content to the text, and a chain of them
// multiplies it: "a" replaced by "aa" by each of 64 normalizers would grow a
// text 2⁶⁴ times. So a text may grow to normalizeGrowth times its length
// plus normalizeSlack; real normalizers (" " to "▁", a prepended "▁") stay
// under three times.
const (
	normalizeGrowth = 8
	normalizeSlack  = 4096
)

func normalizeLimit(text string) int { return normalizeGrowth*len(text) + normalizeSlack }

// GrowthError reports a normalizer that would grow the text past its limit.
type GrowthError struct {
	Normalizer string
	Len, Limit int
}

func (e *GrowthError) Error() string {
	return fmt.Sprintf("tokenizer: the %s normalizer would grow %d bytes of text past %d (%d times plus %d); the tokenizer.json's normalizers expand text without bound",
		e.Normalizer, e.Len, e.Limit, normalizeGrowth, normalizeSlack)
}

func parseNormalizer(raw json.RawMessage, q *patternQuota) ([]normalizer, error) {
	var out []normalizer
	var walk func(raw json.RawMessage, depth int) error
	walk = func(raw json.RawMessage, depth int) error {
		if isNull(raw) {
			return nil
		}
		if depth > maxComponentDepth {
			return fmt.Errorf("normalizer: Sequences nested more than %d deep", maxComponentDepth)
		}
		var c component
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("normalizer: %w", err)
		}
		if c.Type == "Sequence" {
			for _, sub := range c.Normalizers {
				if err := walk(sub, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if len(out) == maxComponents {
			return fmt.Errorf("normalizer: more than %d normalizers", maxComponents)
		}
		n, err := newNormalizer(&c, q)
		if err != nil {
			return err
		}
		out = append(out, n)
		return nil
	}
	if err := walk(raw, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func newNormalizer(c *component, q *patternQuota) (normalizer, error) {
	switch c.Type {
	case "Lowercase":
		// A lower-case letter can take more bytes than its capital (İ).
		return func(s string, _ *scratch, limit int) (string, error) {
			if low := strings.ToLower(s); len(low) <= limit {
				return low, nil
			}
			return s, &GrowthError{"Lowercase", len(s), limit}
		}, nil
	case "Strip":
		left, right := c.StripLeft == nil || *c.StripLeft, c.StripRight == nil || *c.StripRight
		return func(s string, _ *scratch, _ int) (string, error) {
			if left {
				s = strings.TrimLeftFunc(s, isSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, isSpace)
			}
			return s, nil
		}, nil
	case "Prepend":
		p := c.Prepend
		return func(s string, _ *scratch, limit int) (string, error) {
			switch {
			case s == "":
				return s, nil
			case len(p)+len(s) > limit:
				return s, &GrowthError{"Prepend", len(s), limit}
			}
			return p + s, nil
		}, nil
	case "Replace":
		re, err := c.pattern(q)
		if err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
		content := c.Content
		return func(s string, sc *scratch, limit int) (string, error) {
			var sb strings.Builder
			prev, over := 0, false
			err := re.findAll(s, &sc.stack, func(start, end int) {
				if over = over || sb.Len()+start-prev+len(content) > limit; over {
					return
				}
				sb.WriteString(s[prev:start])
				sb.WriteString(content)
				prev = end
			})
			switch {
			case over || sb.Len()+len(s)-prev > limit:
				return s, &GrowthError{"Replace", len(s), limit}
			case prev == 0 && sb.Len() == 0:
				return s, err
			}
			sb.WriteString(s[prev:])
			return sb.String(), err
		}, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported (supported: Sequence, Lowercase, Strip, Prepend, Replace)", c.Type)
}

// ---- pre-tokenizers ----

// A stage splits each piece into smaller pieces, appending them to out.
// An error is a *BacktrackError; the pieces appended with it still cover
// the whole piece, the rest of it left unsplit.
type stage interface {
	split(piece string, sc *scratch, out []string) ([]string, error)
}

// parsePreTokenizer flattens the pre-tokenizer into its stages and reports
// whether it ends with ByteLevel.
func parsePreTokenizer(raw json.RawMessage, q *patternQuota) ([]stage, bool, error) {
	if isNull(raw) {
		return nil, false, nil
	}
	var stages []stage
	byteLevel := false
	var walk func(raw json.RawMessage, depth int) error
	walk = func(raw json.RawMessage, depth int) error {
		if depth > maxComponentDepth {
			return fmt.Errorf("pre_tokenizer: Sequences nested more than %d deep", maxComponentDepth)
		}
		if len(stages) == maxComponents {
			return fmt.Errorf("pre_tokenizer: more than %d pre-tokenizers", maxComponents)
		}
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
				if err := walk(sub, depth+1); err != nil {
					return err
				}
			}
		case "Split":
			re, err := c.pattern(q)
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
	if err := walk(raw, 0); err != nil {
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

func (s *splitStage) split(piece string, sc *scratch, out []string) ([]string, error) {
	if s.behavior == isolated && !s.invert {
		prev := 0
		err := s.re.findAll(piece, &sc.stack, func(start, end int) {
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
		return out, err
	}
	// The general case: segments covering the piece, matches and gaps.
	// After an error the rest of the piece is one segment of content, so
	// that no behavior drops it.
	segs := sc.segs[:0]
	prev := 0
	err := s.re.findAll(piece, &sc.stack, func(start, end int) {
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
		segs = append(segs, segment{prev, len(piece), s.invert && err == nil})
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
	return out, err
}

// digitsStage is Hugging Face's Digits: runs of ASCII digits (each digit,
// with individual_digits) become pieces of their own.
type digitsStage struct{ individual bool }

func (d digitsStage) split(piece string, _ *scratch, out []string) ([]string, error) {
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
	return out, nil
}

// byteLevelStage is the ByteLevel pre-tokenizer: an optional leading space,
// GPT-2's split pattern when use_regex, and the byte-to-character mapping,
// which the BPE model applies (pieces stay raw bytes here).
type byteLevelStage struct {
	prefixSpace bool
	re          *regex // nil without use_regex
}

func (b *byteLevelStage) split(piece string, sc *scratch, out []string) ([]string, error) {
	if b.prefixSpace && !strings.HasPrefix(piece, " ") {
		piece = " " + piece
	}
	if b.re == nil {
		return append(out, piece), nil
	}
	prev := 0
	err := b.re.findAll(piece, &sc.stack, func(start, end int) {
		if end > start {
			out = append(out, piece[start:end])
		}
		prev = end
	})
	if err != nil && prev < len(piece) {
		out = append(out, piece[prev:])
	}
	return out, err
}

// trimSpaceLeft and trimSpaceRight are ECMAScript's trimStart and trimEnd.
func trimSpaceLeft(s string) string  { return strings.TrimLeftFunc(s, isSpace) }
func trimSpaceRight(s string) string { return strings.TrimRightFunc(s, isSpace) }
