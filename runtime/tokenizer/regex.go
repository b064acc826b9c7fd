package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// This file is a small backtracking regular-expression engine for the split
// patterns that tokenizer.json files declare. Go's regexp package cannot
// express them: they use lookahead (`\s+(?!\S)`), and their `\s` means
// Unicode white space, not ASCII. The dialect is ECMAScript's with the `u`
// flag, because the reference implementation the tests compare with (the
// JavaScript port of Hugging Face tokenizers) compiles the patterns that way:
//
//   - `\s` is ECMAScript white space and line terminators (U+0009–U+000D,
//     U+0020, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F,
//     U+3000, U+FEFF); `\d` is [0-9]; `\w` is [A-Za-z0-9_]; `.` is any code
//     point but \n, \r, U+2028, U+2029.
//   - `\p{..}`/`\P{..}` take general categories (short or long names, with or
//     without `gc=`/`General_Category=`), scripts (`Script=Han`, `sc=Han`, or a
//     bare script name as Oniguruma allows) and Go's binary properties
//     (`White_Space`, ...). Tables are Go's (package unicode).
//   - Groups: `(...)`, `(?:...)`, `(?<name>...)`, lookahead `(?=...)`,
//     `(?!...)`, and Oniguruma's case-insensitive group `(?i:...)`, which
//     GPT-2-style patterns use. Lookbehind and back-references are rejected.
//   - Quantifiers `* + ? {n} {n,} {n,m}`, lazy (`*?`) and possessive (`*+`).
//     A repeated sub-expression that can match the empty string is rejected
//     rather than given ECMAScript's empty-iteration rule.
//
// Matching is leftmost-first with backtracking, like ECMAScript, within a
// step budget per attempt (regex_limits.go). A greedy repetition of one
// character class, the shape of every tokenizer pattern's hot path, runs as
// one instruction that consumes the run and gives back one code point at a
// time. Classes answer membership from a bitmap for the first two planes.

// regex is a compiled pattern. It is safe for concurrent use.
type regex struct {
	src    string
	progs  []*prog    // progs[0] is the pattern; the rest are lookaheads and atomic groups
	first  *charClass // the code points a match can start with; nil if it can be empty
	ninsts int        // the instructions of all progs
}

type prog struct {
	insts []inst
}

type opcode uint8

const (
	opRune     opcode = iota // one code point equal to r
	opClass                  // one code point in cls
	opRepeat                 // cls{min,max} greedy (possessive: no give-back)
	opSplit                  // try x, on failure y
	opJmp                    // go to x
	opBegin                  // start of input
	opEnd                    // end of input
	opWordB                  // \b
	opNotWordB               // \B
	opLook                   // run progs[sub] at pos: lookahead or atomic group
	opMatch
)

type lookMode uint8

const (
	lookAhead lookMode = iota
	lookNegAhead
	lookAtomic
)

type inst struct {
	op         opcode
	mode       lookMode
	possessive bool
	r          rune
	cls        *charClass // opClass, opRepeat; for opSplit, a guard: x is tried only on a code point in it
	x, y       int        // branch targets; x is sub for opLook
	min, max   int        // opRepeat; max < 0: unbounded
}

// frame is one backtracking point: resume at pc with pos. A frame with
// rep set resumes a greedy class repetition that still has code points to
// give back down to minPos.
type frame struct {
	pos, minPos int
	pc          int32
	rep         bool
}

// compileRegex parses and compiles an ECMAScript-dialect pattern with a
// quota of its own.
func compileRegex(src string) (*regex, error) {
	return compileRegexQuota(src, newPatternQuota())
}

// compileRegexQuota compiles src within what is left of q, the quota of
// all the patterns of a tokenizer.
func compileRegexQuota(src string, q *patternQuota) (*regex, error) {
	if err := q.takeSource(src); err != nil {
		return nil, fmt.Errorf("regex %s: %w", quoteTrunc(src, 200), err)
	}
	p := &parser{src: src, quota: q}
	n, err := p.parseAlt()
	if err != nil {
		return nil, fmt.Errorf("regex %s: %w", quoteTrunc(src, 200), err)
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("regex %s: unmatched ')' at offset %d", quoteTrunc(src, 200), p.pos)
	}
	re := &regex{src: src}
	c := &compiler{re: re, quota: q, first: map[*node]*charClass{}}
	if _, err := c.compileProg(n); err != nil {
		return nil, fmt.Errorf("regex %s: %w", quoteTrunc(src, 200), err)
	}
	if re.first, err = c.firstSet(n); err != nil {
		return nil, fmt.Errorf("regex %s: %w", quoteTrunc(src, 200), err)
	}
	return re, nil
}

func mustCompileRegex(src string) *regex {
	re, err := compileRegex(src)
	if err != nil {
		panic(err)
	}
	return re
}

// findAll calls fn with the [start, end) byte offsets of every non-overlapping
// match in text, in order, the way ECMAScript's matchAll scans: after an empty
// match the scan moves on by one code point. An attempt that runs out of
// its step budget ends the scan with a *BacktrackError; fn has then been
// called for the matches before it.
func (re *regex) findAll(text string, st *[]frame, fn func(start, end int)) error {
	// The attempts share a budget for the whole text too: a pattern that
	// scans to the end and fails at every position is linear per attempt
	// but quadratic in all (a+b on 200 KB of a's ran for minutes).
	total := max(re.stepBudget(text, 0), minTotalSteps)
	for pos := 0; pos <= len(text); {
		// Skip the positions where no match can start.
		if re.first != nil {
			for pos < len(text) {
				r, n := decodeRune(text, pos)
				if re.first.has(r) {
					break
				}
				pos += n
			}
			if pos == len(text) {
				break
			}
		}
		budget := min(re.stepBudget(text, pos), total)
		steps := budget
		end, ok := re.exec(0, text, pos, st, &steps)
		if steps < 0 {
			return &BacktrackError{Pattern: re.src, Offset: pos}
		}
		total -= budget - steps
		if !ok || end == pos {
			if ok {
				fn(pos, end)
			}
			if pos == len(text) {
				break
			}
			_, n := decodeRune(text, pos)
			pos += n
			continue
		}
		fn(pos, end)
		pos = end
	}
	return nil
}

// decodeRune decodes the code point at s[i]; small enough to inline, so that
// ASCII costs one comparison.
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return decodeRuneSlow(s[i:])
}

//go:noinline
func decodeRuneSlow(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

// exec runs progs[pi] at start and reports the end of its match. It spends
// *steps (see stepBudget); when they run out it stops, leaves *steps
// negative and reports no match.
func (re *regex) exec(pi int, text string, start int, st *[]frame, steps *int) (int, bool) {
	insts := re.progs[pi].insts
	stk := *st
	base := len(stk)
	left := *steps
	stk = append(stk, frame{pc: 0, pos: start})
	for len(stk) > base {
		f := stk[len(stk)-1]
		stk = stk[:len(stk)-1]
		pc, pos := int(f.pc), f.pos
		if f.rep {
			_, n := utf8.DecodeLastRuneInString(text[:pos])
			pos -= n
			if pos > f.minPos {
				stk = append(stk, frame{pc: f.pc, pos: pos, minPos: f.minPos, rep: true})
			}
		}
	run:
		for {
			if left--; left < 0 {
				break run
			}
			in := &insts[pc]
			switch in.op {
			case opMatch:
				*st, *steps = stk[:base], left
				return pos, true
			case opRune:
				if pos >= len(text) {
					break run
				}
				r, n := decodeRune(text, pos)
				if r != in.r {
					break run
				}
				pos += n
				pc++
			case opClass:
				if pos >= len(text) {
					break run
				}
				r, n := decodeRune(text, pos)
				if !in.cls.has(r) {
					break run
				}
				pos += n
				pc++
			case opRepeat:
				p, count, minPos := pos, 0, pos
				for (in.max < 0 || count < in.max) && p < len(text) {
					r, n := decodeRune(text, p)
					if !in.cls.has(r) {
						break
					}
					p += n
					count++
					if count == in.min {
						minPos = p
					}
				}
				if left -= count; count < in.min {
					break run
				}
				if !in.possessive && p > minPos {
					stk = append(stk, frame{pc: int32(pc + 1), pos: p, minPos: minPos, rep: true})
				}
				pos = p
				pc++
			case opSplit:
				if in.cls != nil {
					if pos >= len(text) {
						pc = in.y
						continue
					}
					if r, _ := decodeRune(text, pos); !in.cls.has(r) {
						pc = in.y
						continue
					}
				}
				stk = append(stk, frame{pc: int32(in.y), pos: pos})
				pc = in.x
			case opJmp:
				pc = in.x
			case opBegin:
				if pos != 0 {
					break run
				}
				pc++
			case opEnd:
				if pos != len(text) {
					break run
				}
				pc++
			case opWordB, opNotWordB:
				if atWordBoundary(text, pos) != (in.op == opWordB) {
					break run
				}
				pc++
			case opLook:
				*st, *steps = stk, left
				end, ok := re.exec(in.x, text, pos, st, steps)
				stk, left = *st, *steps
				if left < 0 {
					break run
				}
				switch in.mode {
				case lookAhead:
					if !ok {
						break run
					}
				case lookNegAhead:
					if ok {
						break run
					}
				case lookAtomic:
					if !ok {
						break run
					}
					pos = end
				}
				pc++
			}
		}
		if left < 0 {
			break
		}
	}
	*st, *steps = stk[:base], left
	return 0, false
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func atWordBoundary(text string, pos int) bool {
	before := pos > 0 && isWordByte(text[pos-1])
	after := pos < len(text) && isWordByte(text[pos])
	return before != after
}
