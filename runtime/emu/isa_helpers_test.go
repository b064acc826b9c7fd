package emu_test

// Shared helpers for the instruction-level ISA tests (isa_*_test.go).
//
// These tests are written from docs/ptx-isa-notes.md (the PTX ISA restated)
// only: every expected value is computed here, in Go, from the ISA's rules
// (or taken from the notes' test vectors), never from the emulator's code.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
)

const ptxHeader = ".version 8.4\n.target sm_90a\n.address_size 64\n\n"

// isaDevice returns a sanitizing device with the given interleaving seed.
func isaDevice(seed uint64) *emu.Device {
	return emu.NewDevice(emu.Options{Sanitize: true, Seed: seed})
}

func mustAlloc(t *testing.T, dev *emu.Device, data []byte) device.Buffer {
	t.Helper()
	b, err := dev.Alloc(uint64(len(data)))
	if err != nil {
		t.Fatalf("Alloc(%d): %v", len(data), err)
	}
	if err := dev.Upload(b, data); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	return b
}

func mustDownload(t *testing.T, dev *emu.Device, b device.Buffer) []byte {
	t.Helper()
	out := make([]byte, b.Size)
	if err := dev.Download(out, b); err != nil {
		t.Fatalf("Download: %v", err)
	}
	return out
}

// asReport returns the sanitizer report in err, or nil.
func asReport(err error) *emu.Report {
	var rep *emu.Report
	if errors.As(err, &rep) {
		return rep
	}
	return nil
}

func kinds(rep *emu.Report) string {
	if rep == nil {
		return "none"
	}
	var s []string
	for _, f := range rep.Findings {
		s = append(s, fmt.Sprintf("%s(line %d: %s)", f.Kind, f.Line, f.Msg))
	}
	return strings.Join(s, "; ")
}

// ---------------------------------------------------------------------------
// Single-instruction harness.
//
// Each thread i loads operand j (j < 4) of row i from in[i*32 + j*8] with the
// operand's type, executes the instruction, and stores destination d to
// out[i*16] and the second destination q (if any) to out[i*16+8].
// Predicates travel as u32 0/1.

type opSpec struct {
	inst string   // template with {d} {q} {a} {b} {c} {e}
	dst  string   // type of {d}: b16 u16 s16 b32 u32 s32 f32 b64 u64 s64 f64 pred
	dst2 string   // type of {q}, "" if none
	srcs []string // types of {a} {b} {c} {e}
}

func regFor(ty string, idx int) string {
	switch ty {
	case "b16", "u16", "s16", "f16", "bf16":
		return fmt.Sprintf("%%h%d", idx)
	case "b32", "u32", "s32":
		return fmt.Sprintf("%%r%d", idx)
	case "f32":
		return fmt.Sprintf("%%f%d", idx)
	case "b64", "u64", "s64":
		return fmt.Sprintf("%%rd%d", idx)
	case "f64":
		return fmt.Sprintf("%%fd%d", idx)
	case "pred":
		return fmt.Sprintf("%%p%d", idx)
	}
	panic("bad type " + ty)
}

func memType(ty string) string {
	switch ty {
	case "f16", "bf16":
		return "b16"
	case "pred":
		return "u32"
	}
	return ty
}

func opKernel(spec opSpec) string {
	var b strings.Builder
	b.WriteString(ptxHeader)
	b.WriteString(".visible .entry op(.param .u64 op_param_0, .param .u64 op_param_1)\n{\n")
	b.WriteString("\t.reg .pred %p<24>;\n\t.reg .b16 %h<24>;\n\t.reg .b32 %r<24>;\n\t.reg .b64 %rd<24>;\n\t.reg .f32 %f<24>;\n\t.reg .f64 %fd<24>;\n")
	b.WriteString("\tld.param.u64 %rd1, [op_param_0];\n\tld.param.u64 %rd2, [op_param_1];\n")
	b.WriteString("\tmov.u32 %r1, %tid.x;\n")
	b.WriteString("\tmul.wide.u32 %rd3, %r1, 32;\n\tadd.s64 %rd4, %rd1, %rd3;\n")
	b.WriteString("\tmul.wide.u32 %rd5, %r1, 16;\n\tadd.s64 %rd6, %rd2, %rd5;\n")
	names := []string{"{a}", "{b}", "{c}", "{e}"}
	rep := []string{}
	for j, ty := range spec.srcs {
		if ty == "pred" {
			fmt.Fprintf(&b, "\tld.global.u32 %%r%d, [%%rd4+%d];\n", 20+j, 8*j)
			fmt.Fprintf(&b, "\tsetp.ne.u32 %%p%d, %%r%d, 0;\n", 10+j, 20+j)
		} else {
			fmt.Fprintf(&b, "\tld.global.%s %s, [%%rd4+%d];\n", memType(ty), regFor(ty, 10+j), 8*j)
		}
		rep = append(rep, names[j], regFor(ty, 10+j))
	}
	store := func(ty string, idx, off int) {
		if ty == "pred" {
			fmt.Fprintf(&b, "\tselp.u32 %%r%d, 1, 0, %%p%d;\n", idx, idx)
			fmt.Fprintf(&b, "\tst.global.u32 [%%rd6+%d], %%r%d;\n", off, idx)
			return
		}
		fmt.Fprintf(&b, "\tst.global.%s [%%rd6+%d], %s;\n", memType(ty), off, regFor(ty, idx))
	}
	rep = append(rep, "{d}", regFor(spec.dst, 14))
	if spec.dst2 != "" {
		rep = append(rep, "{q}", regFor(spec.dst2, 15))
	}
	b.WriteString("\t" + strings.NewReplacer(rep...).Replace(spec.inst) + "\n")
	store(spec.dst, 14, 0)
	if spec.dst2 != "" {
		store(spec.dst2, 15, 8)
	}
	b.WriteString("\tret;\n}\n")
	return b.String()
}

func typeBytes(ty string) int {
	switch ty {
	case "b16", "u16", "s16", "f16", "bf16":
		return 2
	case "b32", "u32", "s32", "f32", "pred":
		return 4
	}
	return 8
}

func maskTo(ty string, v uint64) uint64 {
	switch typeBytes(ty) {
	case 2:
		return v & 0xFFFF
	case 4:
		return v & 0xFFFFFFFF
	}
	return v
}

// runOp runs spec over the operand rows and returns, per row, d and q (masked
// to their type's width). A load/launch error fails the test (fatal).
func runOp(t *testing.T, spec opSpec, rows [][]uint64) [][2]uint64 {
	t.Helper()
	res, err := tryRunOp(spec, rows)
	if err != nil {
		t.Errorf("%s: %v", spec.inst, err)
		return nil
	}
	return res
}

// runOpRule is runOp with the ISA rule named in a load/launch failure.
func runOpRule(t *testing.T, rule string, spec opSpec, rows [][]uint64) [][2]uint64 {
	t.Helper()
	res, err := tryRunOp(spec, rows)
	if err != nil {
		t.Errorf("%s [%s]: %v", spec.inst, rule, err)
		return nil
	}
	return res
}

func tryRunOp(spec opSpec, rows [][]uint64) ([][2]uint64, error) {
	src := opKernel(spec)
	dev := isaDevice(1)
	if _, err := dev.LoadPTX(src); err != nil {
		return nil, fmt.Errorf("LoadPTX rejected the instruction (not implemented / decode error): %v", err)
	}
	n := len(rows)
	threads := (n + 31) / 32 * 32
	in := make([]byte, threads*32)
	for i := 0; i < threads; i++ {
		r := rows[min(i, n-1)]
		for j := range spec.srcs {
			binary.LittleEndian.PutUint64(in[i*32+8*j:], r[j])
		}
	}
	alloc := func(data []byte) (device.Buffer, error) {
		b, err := dev.Alloc(uint64(len(data)))
		if err != nil {
			return b, err
		}
		return b, dev.Upload(b, data)
	}
	ib, err := alloc(in)
	if err != nil {
		return nil, err
	}
	ob, err := alloc(make([]byte, threads*16))
	if err != nil {
		return nil, err
	}
	if _, err := dev.Run("op", emu.LaunchConfig{Grid: [3]uint32{1, 1, 1}, Block: [3]uint32{uint32(threads), 1, 1}, Args: []uint64{ib.Ptr, ob.Ptr}}); err != nil {
		return nil, fmt.Errorf("Run: %v", err)
	}
	out := make([]byte, threads*16)
	if err := dev.Download(out, ob); err != nil {
		return nil, err
	}
	res := make([][2]uint64, n)
	for i := 0; i < n; i++ {
		res[i][0] = maskTo(spec.dst, binary.LittleEndian.Uint64(out[i*16:]))
		if spec.dst2 != "" {
			res[i][1] = maskTo(spec.dst2, binary.LittleEndian.Uint64(out[i*16+8:]))
		}
	}
	return res, nil
}

// intCase is one row for an exact-bits check.
type intCase struct {
	in   []uint64
	want uint64
}

// checkExact runs the rows and compares d bit-exactly.
func checkExact(t *testing.T, rule string, spec opSpec, cases []intCase) {
	t.Helper()
	rows := make([][]uint64, len(cases))
	for i, c := range cases {
		rows[i] = c.in
	}
	got := runOpRule(t, rule, spec, rows)
	if got == nil {
		return
	}
	for i, c := range cases {
		w := maskTo(spec.dst, c.want)
		if got[i][0] != w {
			t.Errorf("%s [%s] inputs %s: want %#x, got %#x", spec.inst, rule, fmtIn(c.in), w, got[i][0])
		}
	}
}

// checkExactOptional is checkExact for instructions outside the brief's list:
// when the emulator rejects the instruction the test only logs it.
func checkExactOptional(t *testing.T, rule string, spec opSpec, cases []intCase) {
	t.Helper()
	if _, err := emuParse(opKernel(spec)); err != nil {
		t.Logf("optional instruction not supported, not checked: %s: %v", spec.inst, err)
		return
	}
	checkExact(t, rule, spec, cases)
}

func emuParse(src string) (*emu.Module, error) { return emu.Parse(src) }

func fmtIn(in []uint64) string {
	s := make([]string, len(in))
	for i, v := range in {
		s[i] = fmt.Sprintf("%#x", v)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// ---------------------------------------------------------------------------
// Float bit helpers.

func f32b(f float32) uint64 { return uint64(math.Float32bits(f)) }
func f64b(f float64) uint64 { return math.Float64bits(f) }
func bf32(u uint64) float32 { return math.Float32frombits(uint32(u)) }
func u(i int64) uint64      { return uint64(i) }

func isNaN32(u uint64) bool {
	u &= 0xFFFFFFFF
	return u&0x7F800000 == 0x7F800000 && u&0x007FFFFF != 0
}

// ord32 maps f32 bits to integers monotone in the float order (for ulp distances).
func ord32(u uint32) int64 {
	if u&0x80000000 != 0 {
		return -int64(u & 0x7FFFFFFF)
	}
	return int64(u)
}

func ulpDiff32(a, b uint32) int64 {
	d := ord32(a) - ord32(b)
	if d < 0 {
		d = -d
	}
	return d
}
