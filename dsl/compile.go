package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// Options control a compile.
type Options struct {
	// Sets are command-line config overrides, "key=value" or "key.field=value";
	// the value is a DSL expression.
	Sets []string
	// ReadFile loads a .deep file (the root and what it extends); os.ReadFile
	// when nil.
	ReadFile func(path string) ([]byte, error)
}

// Limits that keep any input, however hostile, from hanging or exhausting
// the compiler.
const (
	maxCallDepth  = 200
	maxIterations = 1 << 20
	maxOps        = 4 << 20
	maxExtends    = 16
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
		c.opts.ReadFile = os.ReadFile
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
		if p == path {
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
	parent := filepath.Join(filepath.Dir(path), f.Extends.Path)
	return append(c.load(parent, nil, append(chain, path), f.Extends.Pos), f)
}

var exprParser = participle.MustBuild[Expr](
	participle.Lexer(deepLexer),
	participle.Elide("Comment", "Whitespace"),
	participle.Unquote("String"),
	participle.UseLookahead(3),
)

// override is one --set.
type override struct {
	key, field string
	expr       *Expr
	used       bool
}

func (c *compiler) parseSets() []*override {
	var out []*override
	for _, s := range c.opts.Sets {
		name := "--set " + s
		key, val, ok := strings.Cut(s, "=")
		pad := len(key) + 1
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			panic(&Error{File: "--set", Line: 1, Col: 1, Msg: fmt.Sprintf("expected key=value, got %q", s), Source: s})
		}
		c.sources[name] = s
		// Pad so that positions are columns of the whole "key=value" text.
		e, err := exprParser.ParseString(name, strings.Repeat(" ", pad)+val)
		if err != nil {
			pe, _ := err.(participle.Error)
			pos := lexer.Position{Filename: name, Line: 1, Column: 1}
			msg := err.Error()
			if pe != nil {
				pos, msg = pe.Position(), pe.Message()
			}
			pos.Filename = name
			panic(newError(pos, s, "bad value for %s: %s", key, msg))
		}
		o := &override{key: key, expr: e}
		o.key, o.field, _ = strings.Cut(key, ".")
		out = append(out, o)
	}
	return out
}
