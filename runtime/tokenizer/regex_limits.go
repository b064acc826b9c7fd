package tokenizer

import "fmt"

// A split pattern comes from the tokenizer.json, and a tokenizer.json is
// hostile input (docs/reliability.md): a few bytes of pattern must not buy
// unbounded memory when compiled nor unbounded time when matched. These
// are the bounds; real tokenizers' patterns stay far inside them (tested on
// DeepSeek-V3's, GPT-2's, Llama 3's and Qwen 2's).

const (
	// maxRegexDepth bounds group nesting: the parser and the compiler
	// recurse once per level. Real patterns nest two or three deep.
	maxRegexDepth = 100
)

// The rest bound the patterns of one tokenizer together, since a
// tokenizer.json may declare many of them.
const (
	// maxPatternBytes bounds the source of the patterns: the syntax tree
	// grows with it. Real tokenizers' patterns total a few KiB.
	maxPatternBytes = 1 << 16
	// maxRegexInsts bounds the compiled programs: a bounded repetition of
	// a group is compiled as that many copies, so nested ones multiply
	// ("((a{1000}){1000}){1000}" would be 10⁹ instructions). Real
	// tokenizers compile to a few hundred.
	maxRegexInsts = 1 << 16
	// maxRegexClasses bounds the character classes and the items inside
	// them ([a-z\d] is a class of two items): a class holds a 16 KiB bitmap,
	// and a class or an item costs up to a pass over it to build, so that
	// 2048 are at most 32 MiB and a fraction of a second. Every literal
	// character is a class; real tokenizers have a few hundred of both.
	maxRegexClasses = 2048
)

// patternQuota counts down what the patterns of one tokenizer.json may
// still take of each bound.
type patternQuota struct {
	bytes, insts, classes int
}

func newPatternQuota() *patternQuota {
	return &patternQuota{bytes: maxPatternBytes, insts: maxRegexInsts, classes: maxRegexClasses}
}

func (q *patternQuota) takeSource(src string) error {
	if q.bytes -= len(src); q.bytes < 0 {
		return fmt.Errorf("the tokenizer's patterns are longer than %d bytes together", maxPatternBytes)
	}
	return nil
}

// insts is checked as the compiler goes, before each node it emits.
func (q *patternQuota) checkInsts() error {
	if q.insts < 0 {
		return fmt.Errorf("the tokenizer's patterns compile to more than %d instructions together (bounded repetitions of groups multiply)", maxRegexInsts)
	}
	return nil
}

// takeClasses takes n classes or class items.
func (q *patternQuota) takeClasses(n int) error {
	if q.classes -= n; q.classes < 0 {
		return fmt.Errorf("the tokenizer's patterns hold more than %d character classes and class items together (every literal character is one)", maxRegexClasses)
	}
	return nil
}

// A match attempt is a backtracking search: a pattern such as (?:a+)+b
// tries exponentially many ways to split a run of a's before it fails. So
// an attempt has a step budget: every instruction executed and every code
// point a repetition scans costs one step (a backtrack resumes at an
// instruction, and pays there). An attempt that is linear in its input
// visits each instruction at each position a few times at most: on the
// test corpus every pattern of the tests, DeepSeek-V3's, GPT-2's and
// Llama 3's among them, takes at most one step per byte left and
// instruction (TestStepBudgetHeadroom). The budget is stepFactor times
// that, and minSteps for the shortest inputs, so only super-linear
// backtracking runs out: (?:a+)+b fails on 40 a's after ~10⁴ steps, not
// 2⁴⁰, and on 10000 a's after ~2·10⁶.
//
// The budget is per attempt, and a scan makes an attempt at each position
// where no match was found: a pattern linear per attempt that fails
// everywhere (\s+$ on a long run of spaces before a letter) still takes
// time quadratic in the piece, as in every backtracking engine, the
// reference tokenizers' included. Real patterns have that shape on some
// inputs, so only what is worse than that is stopped.
const (
	stepFactor = 32
	minSteps   = 1024
	// minTotalSteps is the floor of a whole text's budget (findAll): a
	// few milliseconds of work, so that short texts never hit it.
	minTotalSteps = 1 << 22
)

// stepBudget is the steps allowed to one attempt at text[pos:].
func (re *regex) stepBudget(text string, pos int) int {
	return max(stepFactor*(len(text)-pos+1)*re.ninsts, minSteps)
}

// BacktrackError reports a split or replace pattern that needed more than
// its step budget on some input: the pattern backtracks super-linearly
// there, and following it through would hang.
type BacktrackError struct {
	Pattern string
	Offset  int // the byte offset in the piece where the attempt started
}

func (e *BacktrackError) Error() string {
	return fmt.Sprintf("tokenizer: pattern %s needed too much backtracking on the input (at byte %d of a piece); the tokenizer.json's pattern backtracks super-linearly",
		quoteTrunc(e.Pattern, 60), e.Offset)
}
