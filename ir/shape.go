package ir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Dim is one dimension: a constant size N, or a symbol (T tokens, S cache
// length) bound when the program runs, optionally in an affine form
// Mul·Sym + N. Affine dims are worst-case sizes that ops derive from their
// operands (a MoE dispatch holds k·T rows plus padding); arguments use
// plain symbols, which bind them. Mul 0 stands for 1, so that S("T") and
// Dim{Sym: "T"} are the same value and == compares dims.
type Dim struct {
	N   int64
	Sym string
	Mul int64
}

// C returns a constant dim; S a symbolic one.
func C(n int64) Dim       { return Dim{N: n} }
func S(sym string) Dim    { return Dim{Sym: sym} }
func (d Dim) IsSym() bool { return d.Sym != "" }

// Affine returns mul·d + off (a constant when d is one).
func Affine(mul int64, d Dim, off int64) Dim {
	if !d.IsSym() {
		return C(mul*d.N + off)
	}
	m := d.mul() * mul
	if m == 1 {
		m = 0
	}
	return Dim{Sym: d.Sym, Mul: m, N: d.N*mul + off}
}

// IsAffine reports whether d is a symbol scaled or offset (not plain).
func (d Dim) IsAffine() bool { return d.IsSym() && (d.Mul != 0 || d.N != 0) }

func (d Dim) mul() int64 {
	if d.Mul == 0 {
		return 1
	}
	return d.Mul
}

func (d Dim) String() string {
	if d.Sym == "" {
		return strconv.FormatInt(d.N, 10)
	}
	s := d.Sym
	if d.Mul != 0 {
		s = strconv.FormatInt(d.Mul, 10) + "*" + s
	}
	if d.N != 0 {
		s += "+" + strconv.FormatInt(d.N, 10)
	}
	return s
}

// Eval returns the size of d with symbols taken from env.
func (d Dim) Eval(env map[string]int64) (int64, bool) {
	if d.Sym == "" {
		return d.N, true
	}
	n, ok := env[d.Sym]
	return d.mul()*n + d.N, ok
}

// Shape is an ordered list of dims; a scalar has none.
type Shape []Dim

// Consts builds a constant shape.
func Consts(ns ...int64) Shape {
	s := make(Shape, len(ns))
	for i, n := range ns {
		s[i] = C(n)
	}
	return s
}

func (s Shape) Rank() int { return len(s) }

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s Shape) Equal(t Shape) bool { return slices.Equal(s, t) }

// Axis normalises a possibly negative axis, or reports it out of range.
func (s Shape) Axis(a int64) (int, error) {
	r := int64(len(s))
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	return int(a), nil
}

// Numel is the symbolic element count: a constant times a sorted product of
// symbols. Two shapes hold the same number of elements iff their Numels are equal.
type Numel struct {
	N    int64
	Syms string // symbols joined by "*", sorted
}

func (s Shape) Numel() Numel {
	n := int64(1)
	var syms []string
	for _, d := range s {
		switch {
		case d.IsSym() && d.N != 0: // an offset: not a product
			syms = append(syms, "("+d.String()+")")
		case d.IsSym():
			n *= d.mul()
			syms = append(syms, d.Sym)
		default:
			n *= d.N
		}
	}
	slices.Sort(syms)
	return Numel{n, strings.Join(syms, "*")}
}

func (n Numel) String() string {
	if n.Syms == "" {
		return strconv.FormatInt(n.N, 10)
	}
	return strconv.FormatInt(n.N, 10) + "*" + n.Syms
}

// Eval returns the element count with symbols bound by env.
func (s Shape) Eval(env map[string]int64) (int64, bool) {
	n := int64(1)
	for _, d := range s {
		v, ok := d.Eval(env)
		if !ok {
			return 0, false
		}
		n *= v
	}
	return n, true
}

// Syms lists the symbols used in s.
func (s Shape) Syms() []string {
	var out []string
	for _, d := range s {
		if d.IsSym() {
			out = append(out, d.Sym)
		}
	}
	return out
}

// Type is a tensor type: shape and element type.
type Type struct {
	Shape Shape
	DType DType
}

func T(dt DType, dims ...Dim) Type { return Type{Shape: Shape(dims), DType: dt} }

func (t Type) String() string { return t.Shape.String() + " " + t.DType.String() }

func (t Type) Equal(u Type) bool { return t.DType == u.DType && t.Shape.Equal(u.Shape) }
