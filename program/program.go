// Package program is the format of a compiled program: the kernel launches
// of one graph in order, with the tensors and symbols bound to each and the
// grid. codegen writes these types; a bundle's manifest carries them as
// JSON; runtime/device's Executor and the backends it drives (cpu, cuda,
// emu) read them. It imports only ir, so that the compiler and the
// runtimes share the format without importing each other.
package program

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// Step is one launch of a kernel in a program: the tensors bound to its
// parameters (the region's inputs, the scales of quantized weights, then
// its outputs), the symbols passed after them as i64 values, and the grid.
type Step struct {
	Kernel  string   `json:"kernel"`
	Region  int      `json:"region"`
	Args    []Arg    `json:"args"`
	Symbols []string `json:"symbols,omitempty"`
	Launch  Launch   `json:"launch"`
	// InPlace pairs (output i, input j) whose buffers must be the same:
	// the kernel updates the input and writes only what changes.
	InPlace [][2]int `json:"in_place,omitempty"`
}

// Arg is one tensor parameter.
type Arg struct {
	Value  string   `json:"value"` // the IR value it binds (%N or an argument/param name)
	DType  string   `json:"dtype"`
	Shape  []string `json:"shape"`
	Output bool     `json:"output,omitempty"`
	// ScaleOf names the block-quantized tensor whose f32 scale grid this
	// argument is (one scale per Block[0]×Block[1] block of its last two
	// axes); empty for a tensor argument.
	ScaleOf string  `json:"scale_of,omitempty"`
	Block   []int64 `json:"block,omitempty"`
	// Scratch marks a temporary that one step of a multi-kernel region
	// writes (Output) and a later step of it reads: no IR value, named by
	// Value, sized by Shape and DType.
	Scratch bool `json:"scratch,omitempty"`
}

// Launch gives the grid from the bound symbols: each grid dimension is
// ceil(product(Elems) / Div); Threads per block, Shared bytes of dynamic
// shared memory.
type Launch struct {
	Grid    [3]GridDim `json:"grid"`
	Threads int        `json:"threads"`
	Shared  int        `json:"shared"`
}

// GridDim is ceil(product of Elems / Div); an empty Elems means 1.
type GridDim struct {
	Elems []string `json:"elems,omitempty"`
	Div   int64    `json:"div"`
}

// Eval computes the grid dimension for bound symbols.
func (g GridDim) Eval(env map[string]int64) (int64, error) {
	n := int64(1)
	for _, e := range g.Elems {
		d, err := ParseDim(e)
		if err != nil {
			return 0, err
		}
		v, ok := d.Eval(env)
		if !ok {
			return 0, fmt.Errorf("symbol %s unbound", d.Sym)
		}
		n *= v
	}
	div := max(g.Div, 1)
	return (n + div - 1) / div, nil
}

// ParseDim reads a dim as Dim.String prints it: 7168, T, 8*T+32512.
func ParseDim(s string) (ir.Dim, error) {
	bad := fmt.Errorf("bad dim %q", s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ir.C(n), nil
	}
	var mul, off int64 = 1, 0
	rest := s
	if i := strings.IndexByte(rest, '*'); i >= 0 {
		m, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return ir.Dim{}, bad
		}
		mul, rest = m, rest[i+1:]
	}
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		o, err := strconv.ParseInt(rest[i+1:], 10, 64)
		if err != nil {
			return ir.Dim{}, bad
		}
		off, rest = o, rest[:i]
	}
	if rest == "" {
		return ir.Dim{}, bad
	}
	return ir.Affine(mul, ir.S(rest), off), nil
}
