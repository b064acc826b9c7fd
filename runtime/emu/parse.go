package emu

import (
	"fmt"
	"strconv"
	"strings"
)

// The PTX text is read in two steps: this file splits it into statements
// (directives, labels, instructions, with their lines) and builds the
// module's structure (globals, kernels, their params, registers and shared
// variables); decode.go turns each instruction into its executable form.

// stmt is one statement: its text without the final ';' and its line.
type stmt struct {
	text string
	line int
	kind stmtKind
}

type stmtKind uint8

const (
	stmtPlain  stmtKind = iota // a directive or an instruction
	stmtLabel                  // "name:" (text is the name)
	stmtOpen                   // "{"
	stmtClose                  // "}"
	stmtHeader                 // a function header up to its body's "{"
)

// splitStatements cuts PTX source into statements. Comments are dropped;
// braces inside a statement (vector operands, initializers) stay in it.
func splitStatements(src string) ([]stmt, error) {
	var out []stmt
	line := 1
	i := 0
	n := len(src)
	skipSpace := func() {
		for i < n {
			c := src[i]
			switch {
			case c == '\n':
				line++
				i++
			case c == ' ' || c == '\t' || c == '\r':
				i++
			case c == '/' && i+1 < n && src[i+1] == '/':
				for i < n && src[i] != '\n' {
					i++
				}
			case c == '/' && i+1 < n && src[i+1] == '*':
				j := strings.Index(src[i+2:], "*/")
				if j < 0 {
					i = n
					return
				}
				line += strings.Count(src[i:i+2+j], "\n")
				i += j + 4
			default:
				return
			}
		}
	}
	for {
		skipSpace()
		if i >= n {
			return out, nil
		}
		start := line
		switch src[i] {
		case '{':
			out = append(out, stmt{kind: stmtOpen, line: start})
			i++
			continue
		case '}':
			out = append(out, stmt{kind: stmtClose, line: start})
			i++
			continue
		}
		// A label: an identifier followed by ':' (not "::", which is a
		// state-space qualifier inside an opcode).
		if j := identEnd(src, i); j > i && j < n && src[j] == ':' && (j+1 >= n || src[j+1] != ':') {
			out = append(out, stmt{kind: stmtLabel, text: src[i:j], line: start})
			i = j + 1
			continue
		}
		// Module directives that end at the end of their line.
		if lineDirective(src[i:]) {
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = n - i
			}
			text := src[i : i+j]
			if c := strings.Index(text, "//"); c >= 0 {
				text = text[:c]
			}
			out = append(out, stmt{text: strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(text), ";")), " "), line: start})
			i += j
			continue
		}
		// A statement: up to ';' outside braces and parentheses; a function
		// header ends at the '{' after its parameter list.
		var b strings.Builder
		depth := 0
		header := false
		for i < n {
			c := src[i]
			if c == '/' && i+1 < n && (src[i+1] == '/' || src[i+1] == '*') {
				skipSpace()
				b.WriteByte(' ')
				continue
			}
			if c == '\n' {
				line++
			}
			if depth == 0 && c == ';' {
				i++
				break
			}
			if depth == 0 && c == '{' && (header || isHeader(b.String())) {
				header = true
				break
			}
			switch c {
			case '(', '{', '[':
				depth++
			case ')', '}', ']':
				depth--
			}
			b.WriteByte(c)
			i++
		}
		text := strings.Join(strings.Fields(b.String()), " ")
		kind := stmtPlain
		if header {
			kind = stmtHeader
		}
		if depth != 0 {
			return nil, fmt.Errorf("line %d: unbalanced brackets in %q", start, text)
		}
		out = append(out, stmt{kind: kind, text: text, line: start})
	}
}

// lineDirective reports whether s starts with a directive that has no
// ';' (it ends with its line).
func lineDirective(s string) bool {
	for _, d := range []string{".version", ".target", ".address_size", ".file", ".loc"} {
		if strings.HasPrefix(s, d) && len(s) > len(d) && (s[len(d)] == ' ' || s[len(d)] == '\t') {
			return true
		}
	}
	return false
}

// isHeader reports whether a statement's text so far opens a function.
func isHeader(s string) bool {
	for _, f := range strings.Fields(s) {
		switch f {
		case ".entry", ".func":
			return true
		case ".visible", ".weak", ".extern":
			continue
		}
		return false
	}
	return false
}

func identEnd(s string, i int) int {
	j := i
	for j < len(s) {
		c := s[j]
		if c == '_' || c == '$' || c == '%' || c == '.' && j > i || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (j > i && c >= '0' && c <= '9') {
			j++
			continue
		}
		break
	}
	return j
}

// Module is a parsed PTX module.
type Module struct {
	Version string
	Target  string
	Globals []*Var // module-scope .global/.const variables, with initial bytes
	Shared  []*Var // module-scope .shared variables (each kernel gets its own)
	Kernels map[string]*Kernel
	Order   []string // kernel names in source order
}

// Var is a variable in a state space: module-scope globals, a kernel's
// .shared declarations.
type Var struct {
	Name   string
	Space  string // "global", "const", "shared"
	Align  int
	Size   int
	Init   []byte // initial bytes (globals), nil when uninitialised
	Extern bool   // .extern .shared: dynamic shared memory
	Offset uint64 // shared: offset in the CTA's window
	Line   int
}

// Param is a kernel parameter.
type Param struct {
	Name   string
	Size   int
	Align  int
	Offset int
}

// Kernel is one .entry: its interface and its decoded body.
type Kernel struct {
	Name   string
	Params []Param
	// ParamBytes is the size of the parameter space.
	ParamBytes int
	Shared     []*Var
	// StaticShared is the bytes of static shared memory; dynamic shared
	// memory starts at DynOffset.
	StaticShared int
	DynOffset    int
	MaxNTID      [3]int // .maxntid / .reqntid (0: none)
	ReqNTID      bool
	Line         int
	usesWGMMA    bool
	code         *code
}

// regDecl is a declared register (or a block of them: %r<12>).
type regDecl struct {
	typ  string // ".b32", ".f32", ".pred", ...
	name string
	n    int // 0: a single register named name; else name0..name{n-1}
}

// kernelSrc is a kernel before decoding: its statements and scopes.
type kernelSrc struct {
	k     *Kernel
	body  []stmt
	start int
}

// Parse reads a PTX module and decodes every kernel. An instruction the
// emulator does not implement is an error naming it and its line.
func Parse(src string) (*Module, error) {
	stmts, err := splitStatements(src)
	if err != nil {
		return nil, err
	}
	m := &Module{Kernels: map[string]*Kernel{}}
	var srcs []*kernelSrc
	for i := 0; i < len(stmts); i++ {
		s := stmts[i]
		switch s.kind {
		case stmtHeader:
			k, err := parseHeader(s)
			if err != nil {
				return nil, err
			}
			// The body: from the '{' to its matching '}'.
			if i+1 >= len(stmts) || stmts[i+1].kind != stmtOpen {
				if strings.Contains(s.text, ".func") || strings.Contains(s.text, ".extern") {
					continue // a declaration (prototype)
				}
				return nil, fmt.Errorf("line %d: %s has no body", s.line, k.Name)
			}
			depth := 0
			j := i + 1
			for ; j < len(stmts); j++ {
				switch stmts[j].kind {
				case stmtOpen:
					depth++
				case stmtClose:
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if depth != 0 {
				return nil, fmt.Errorf("line %d: %s: body not closed", s.line, k.Name)
			}
			if strings.Contains(s.text, ".func") {
				return nil, fmt.Errorf("line %d: device functions (.func %s) are not supported: deepc's kernels are inlined", s.line, k.Name)
			}
			srcs = append(srcs, &kernelSrc{k: k, body: stmts[i+2 : j], start: s.line})
			i = j
		case stmtPlain:
			f := strings.Fields(s.text)
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case ".version":
				if len(f) > 1 {
					m.Version = f[1]
				}
			case ".target":
				if len(f) > 1 {
					m.Target = strings.TrimSuffix(strings.Join(f[1:], ""), ",")
				}
			case ".address_size":
				if len(f) < 2 || f[1] != "64" {
					return nil, fmt.Errorf("line %d: only 64-bit addressing is supported", s.line)
				}
			case ".file", ".loc", ".section", ".pragma":
			default:
				v, err := parseVar(s, true)
				if err != nil {
					return nil, err
				}
				if v.Space == "shared" {
					// Per CTA, in every kernel of the module (llc puts
					// dynamic shared memory here as .extern .shared).
					m.Shared = append(m.Shared, v)
					continue
				}
				m.Globals = append(m.Globals, v)
				total := 0
				for _, g := range m.Globals {
					total += g.Size
				}
				if total > maxGlobalBytes {
					return nil, fmt.Errorf("line %d: the module's .global variables exceed %d bytes", s.line, maxGlobalBytes)
				}
			}
		default:
			return nil, fmt.Errorf("line %d: unexpected %q at module scope", s.line, s.text)
		}
	}
	for _, ks := range srcs {
		if _, dup := m.Kernels[ks.k.Name]; dup {
			return nil, fmt.Errorf("line %d: kernel %s defined twice", ks.start, ks.k.Name)
		}
		if err := decodeKernel(m, ks); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", ks.k.Name, err)
		}
		m.Kernels[ks.k.Name] = ks.k
		m.Order = append(m.Order, ks.k.Name)
	}
	return m, nil
}

// parseHeader reads ".visible .entry name(.param .u64 a, ...) .maxntid x, y, z".
func parseHeader(s stmt) (*Kernel, error) {
	t := s.text
	open := strings.IndexByte(t, '(')
	if open < 0 {
		return nil, fmt.Errorf("line %d: function header without parameters: %q", s.line, t)
	}
	close := strings.LastIndexByte(t, ')')
	if close < open {
		return nil, fmt.Errorf("line %d: bad function header %q", s.line, t)
	}
	head := strings.Fields(t[:open])
	if len(head) == 0 {
		return nil, fmt.Errorf("line %d: bad function header %q", s.line, t)
	}
	k := &Kernel{Name: head[len(head)-1], Line: s.line}
	off := 0
	if ps := strings.TrimSpace(t[open+1 : close]); ps != "" {
		for _, p := range strings.Split(ps, ",") {
			f := strings.Fields(p)
			if len(f) < 3 || f[0] != ".param" {
				return nil, fmt.Errorf("line %d: parameter %q: want .param .TYPE name", s.line, strings.TrimSpace(p))
			}
			align := 0
			rest := f[1:]
			if rest[0] == ".align" {
				if len(rest) < 4 {
					return nil, fmt.Errorf("line %d: parameter %q", s.line, p)
				}
				a, err := strconv.Atoi(rest[1])
				if err != nil || a <= 0 || a&(a-1) != 0 {
					return nil, fmt.Errorf("line %d: parameter %q: bad alignment", s.line, p)
				}
				align, rest = a, rest[2:]
			}
			size := typeBytes(rest[0])
			if size == 0 {
				return nil, fmt.Errorf("line %d: parameter %q: unknown type %s", s.line, p, rest[0])
			}
			name := rest[1]
			count := 1
			if b := strings.IndexByte(name, '['); b >= 0 {
				c, err := strconv.Atoi(strings.TrimSuffix(name[b+1:], "]"))
				if err != nil || c <= 0 || c > 1<<16 {
					return nil, fmt.Errorf("line %d: parameter %q: bad array size", s.line, p)
				}
				count, name = c, name[:b]
			}
			if align == 0 {
				align = size
			}
			off = (off + align - 1) &^ (align - 1)
			k.Params = append(k.Params, Param{Name: name, Size: size * count, Align: align, Offset: off})
			off += size * count
		}
	}
	k.ParamBytes = off
	// Performance directives after the parameter list.
	tail := strings.Fields(strings.ReplaceAll(t[close+1:], ",", " "))
	for j := 0; j < len(tail); j++ {
		switch tail[j] {
		case ".reqnctapercluster", ".explicitcluster", ".maxclusterrank":
			return nil, fmt.Errorf("line %d: %s: clusters are not implemented by the emulator", s.line, tail[j])
		case ".maxntid", ".reqntid":
			k.ReqNTID = tail[j] == ".reqntid"
			for d := 0; d < 3 && j+1 < len(tail) && !strings.HasPrefix(tail[j+1], "."); d++ {
				v, err := strconv.Atoi(tail[j+1])
				if err != nil || v <= 0 {
					return nil, fmt.Errorf("line %d: %s %q", s.line, tail[j], tail[j+1])
				}
				k.MaxNTID[d] = v
				j++
			}
		}
	}
	return k, nil
}

// parseVar reads "[.visible|.extern] .global|.const|.shared [.align N] .type name[N] [= {..}]".
func parseVar(s stmt, module bool) (*Var, error) {
	t := s.text
	init := ""
	if eq := strings.IndexByte(t, '='); eq >= 0 {
		t, init = t[:eq], strings.TrimSpace(t[eq+1:])
	}
	f := strings.Fields(t)
	v := &Var{Line: s.line}
	var typ string
	for j := 0; j < len(f); j++ {
		switch x := f[j]; {
		case x == ".visible" || x == ".weak" || x == ".common":
		case x == ".extern":
			v.Extern = true
		case x == ".global" || x == ".const" || x == ".shared":
			v.Space = x[1:]
		case x == ".align":
			if j+1 >= len(f) {
				return nil, fmt.Errorf("line %d: .align without a value", s.line)
			}
			a, err := strconv.Atoi(f[j+1])
			if err != nil || a <= 0 || a&(a-1) != 0 || a > 1<<12 {
				return nil, fmt.Errorf("line %d: bad alignment %q", s.line, f[j+1])
			}
			v.Align = a
			j++
		case strings.HasPrefix(x, "."):
			if typeBytes(x) == 0 {
				return nil, fmt.Errorf("line %d: unsupported directive or type %s in %q", s.line, x, s.text)
			}
			typ = x
		default:
			v.Name = x
		}
	}
	if v.Space == "" || typ == "" || v.Name == "" {
		return nil, fmt.Errorf("line %d: unsupported statement %q", s.line, s.text)
	}
	elem := typeBytes(typ)
	count := 1
	if b := strings.IndexByte(v.Name, '['); b >= 0 {
		dim := strings.TrimSuffix(v.Name[b+1:], "]")
		v.Name = v.Name[:b]
		if dim == "" {
			if !v.Extern {
				return nil, fmt.Errorf("line %d: %s: array without a size", s.line, v.Name)
			}
			count = 0
		} else {
			c, err := strconv.Atoi(dim)
			if err != nil || c < 0 || c > 1<<28 {
				return nil, fmt.Errorf("line %d: %s: bad array size %q", s.line, v.Name, dim)
			}
			count = c
		}
	}
	if v.Align == 0 {
		v.Align = elem
	}
	v.Size = elem * count
	if init != "" {
		vals := strings.Split(strings.Trim(init, "{} "), ",")
		if len(vals) > count && count > 0 {
			return nil, fmt.Errorf("line %d: %s: %d initializers for %d elements", s.line, v.Name, len(vals), count)
		}
		v.Init = make([]byte, v.Size)
		for j, x := range vals {
			x = strings.TrimSpace(x)
			u, err := parseIntLit(x)
			if err != nil {
				fv, ferr := parseFloatLit(x, elem)
				if ferr != nil {
					return nil, fmt.Errorf("line %d: %s: initializer %q", s.line, v.Name, x)
				}
				u = fv
			}
			for b := 0; b < elem; b++ {
				v.Init[j*elem+b] = byte(u >> (8 * b))
			}
		}
	}
	return v, nil
}

// typeBytes is the size of a PTX fundamental type (0 when not a type).
func typeBytes(t string) int {
	switch t {
	case ".b8", ".u8", ".s8", ".pred", ".e4m3", ".e5m2":
		return 1
	case ".b16", ".u16", ".s16", ".f16", ".bf16", ".e4m3x2", ".e5m2x2":
		return 2
	case ".b32", ".u32", ".s32", ".f32", ".f16x2", ".bf16x2", ".tf32":
		return 4
	case ".b64", ".u64", ".s64", ".f64":
		return 8
	}
	return 0
}

// parseIntLit reads a PTX integer literal: decimal, 0x hex, 0 octal, 0b
// binary, optionally negative, optionally with a U suffix.
func parseIntLit(s string) (uint64, error) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	s = strings.TrimSuffix(s, "U")
	var v uint64
	var err error
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err = strconv.ParseUint(s[2:], 16, 64)
	case strings.HasPrefix(s, "0b") || strings.HasPrefix(s, "0B"):
		v, err = strconv.ParseUint(s[2:], 2, 64)
	case len(s) > 1 && s[0] == '0':
		v, err = strconv.ParseUint(s[1:], 8, 64)
	default:
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, err
	}
	if neg {
		v = -v
	}
	return v, nil
}

// parseFloatLit reads 0fXXXXXXXX (f32 bits), 0dXXXXXXXXXXXXXXXX (f64 bits)
// or a decimal float, as the bits of a float of size bytes (4 or 8).
func parseFloatLit(s string, size int) (uint64, error) {
	if len(s) == 10 && (strings.HasPrefix(s, "0f") || strings.HasPrefix(s, "0F")) {
		v, err := strconv.ParseUint(s[2:], 16, 32)
		if err != nil {
			return 0, err
		}
		if size == 8 {
			return f64bits(float64(f32frombits(uint32(v)))), nil
		}
		return v, nil
	}
	if len(s) == 18 && (strings.HasPrefix(s, "0d") || strings.HasPrefix(s, "0D")) {
		v, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil {
			return 0, err
		}
		if size == 4 {
			return uint64(f32bits(float32(f64frombits(v)))), nil
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if size == 4 {
		return uint64(f32bits(float32(f))), nil
	}
	return f64bits(f), nil
}
