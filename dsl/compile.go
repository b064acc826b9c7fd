package dsl

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
)

// Options control a compile.
type Options struct {
	// Sets are command-line config overrides, "key=value" or "key.field=value";
	// the value is a DSL expression.
	Sets []string
	// FileSets are overrides read from a file (a checkpoint's config.json),
	// applied before Sets; errors name the file, not --set.
	FileSets []FileSet
	// ReadFile loads a .deep file (the root and what it extends). When nil,
	// safefile.ReadFile with the model-file limit: a regular file of at
	// most 16 MiB, so a FIFO or a device named as a model is refused
	// instead of hanging the compile (docs/design.md §11). An extends
	// target that is not a .deep file is refused before ReadFile sees it.
	ReadFile func(path string) ([]byte, error)
}

// FileSet is an override read from a file. One that is Optional (it
// stands for a key the file lacks) is skipped by a model that does not
// define its key; any other must name a config key of the model.
type FileSet struct {
	File, Set string
	Optional  bool
}

// Limits that keep any input, however hostile, from hanging or exhausting
// the compiler (maxNesting, on the syntax, is in nesting.go).
const (
	maxCallDepth  = 200
	maxIterations = 1 << 20
	// maxOps bounds the ops (param reads included) one compile builds.
	// DeepSeek-V3 in full is 4,159; an op costs about 1.2 KB to build, so
	// this is some 1.2 GB at most. It was 4M (5 GB); loops are refused
	// up front when their trip count times a lower bound on the ops each
	// iteration builds passes it (preflight.go).
	maxOps     = 1 << 20
	maxExtends = 16
	// maxElems bounds a tensor's element count (its constant dims): 2^53,
	// the largest count a float64 holds exactly, and far past any memory.
	maxElems = 1 << 53
	// maxRank bounds a tensor's rank: a shape built from a list in a loop
	// could have a million dims, stored again in every op that uses it.
	// 64 is NumPy's limit (NPY_MAXDIMS); the models use 4.
	maxRank = 64
	// maxSteps bounds the operands one compile evaluates (eval.go's
	// postfix): iterations (maxIterations) times the size of a loop's body
	// (maxTokens) is otherwise 10^11, days of work. DeepSeek-V3 evaluates
	// about 6 an op, so this is 2.7 times what a model of maxOps needs, and
	// some 7 s of evaluation at most.
	maxSteps = 16 * maxOps
	// maxBuilt bounds the list elements and string bytes that operations
	// on long values go through in one compile (arith.go's charge): `l = l
	// + l` in a loop doubles without end, and `l = l + [x]` copies
	// quadratically. 16M is 256 MB of list at most.
	maxBuilt = 1 << 24
)

// CompileFile compiles the .deep file at path into a module.
func CompileFile(path string, opts Options) (*ir.Module, error) {
	return compile(path, nil, opts)
}

// CompileSource compiles src as if read from filename; an `extends` in it is
// loaded through opts.ReadFile relative to filename.
func CompileSource(filename, src string, opts Options) (*ir.Module, error) {
	return compile(filename, []byte(src), opts)
}

func compile(path string, src []byte, opts Options) (m *ir.Module, err error) {
	c := &compiler{sources: map[string]string{}, opts: opts}
	if c.opts.ReadFile == nil {
		c.opts.ReadFile = func(path string) ([]byte, error) { return safefile.ReadFile(path, safefile.Model) }
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*Error); ok {
				m, err = nil, e
				return
			}
			m, err = nil, fmt.Errorf("internal compiler error: %v\n%s", r, debug.Stack())
		}
	}()
	files := c.load(path, src, nil, lexer.Position{Filename: path, Line: 1, Column: 1})
	return c.elaborate(files), nil
}

// load parses path and, first, the files it extends (root first in the result).
// from is where the file was named: the extends clause, or the command line.
func (c *compiler) load(path string, src []byte, chain []string, from lexer.Position) []*File {
	for _, p := range chain {
		if sameFile(p, path) {
			c.errorf(from, "extends cycle: %s", strings.Join(append(chain, path), " -> "))
		}
	}
	if len(chain) > maxExtends {
		c.errorf(from, "extends chain longer than %d files", maxExtends)
	}
	if src == nil {
		b, err := c.opts.ReadFile(path)
		if err != nil {
			if len(chain) == 0 {
				panic(&Error{File: path, Msg: fmt.Sprintf("cannot read model: %v", err)})
			}
			c.errorf(from, "cannot read model: %v", err)
		}
		src = b
	}
	c.sources[path] = string(src)
	f, err := Parse(path, string(src))
	if err != nil {
		panic(err)
	}
	if f.Extends == nil {
		return []*File{f}
	}
	parent := c.extendsTarget(path, f.Extends)
	return append(c.load(parent, nil, append(chain, path), f.Extends.Pos), f)
}

var exprParser = participle.MustBuild[Expr](
	participle.Lexer(deepLexer),
	participle.Elide("Comment", "Whitespace"),
	participle.Map(unquoteToken, "String"),
	participle.UseLookahead(3),
)

// override is one --set.
type override struct {
	key, field string
	expr       *Expr
	used       bool
	text       string // as given: key=value
	optional   bool   // skipped when the model lacks the key (FileSet.Optional)
	from       string // the file it was read from; "" for --set
}

func (c *compiler) parseSets() []*override {
	all := make([]FileSet, 0, len(c.opts.FileSets)+len(c.opts.Sets))
	all = append(all, c.opts.FileSets...)
	for _, s := range c.opts.Sets {
		all = append(all, FileSet{Set: s})
	}
	var out []*override
	for _, fs := range all {
		s := fs.Set
		name := "--set " + clip(s, 80)
		if fs.File != "" {
			name = fs.File + " (" + clip(s, 80) + ")"
		}
		key, val, ok := strings.Cut(s, "=")
		pad := len(key) + 1
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			file := "--set"
			if fs.File != "" {
				file = fs.File
			}
			panic(&Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("expected key=value, got %q", clip(s, maxMessage)), Source: clip(s, maxShownLine)})
		}
		c.sources[name] = s
		// Pad so that positions are columns of the whole "key=value" text.
		e, err := parseChecked(exprParser, name, strings.Repeat(" ", pad)+val)
		if err != nil {
			pe, _ := err.(participle.Error)
			pos := lexer.Position{Filename: name, Line: 1, Column: 1}
			msg := err.Error()
			if pe != nil {
				pos, msg = pe.Position(), pe.Message()
			}
			pos.Filename = name
			panic(newError(pos, s, "bad value for %s: %s", key, friendlier(msg)))
		}
		o := &override{key: key, expr: e, text: s, optional: fs.Optional, from: fs.File}
		o.key, o.field, _ = strings.Cut(key, ".")
		out = append(out, o)
	}
	return out
}
