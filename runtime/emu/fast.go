package emu

import "math"

//go:generate go run ./internal/genfast

// Helpers of the generated lane loops (fast_gen.go). Their semantics are
// those of the builders' (ops_*.go); fast_test.go checks them equal.

func shl64(x, y uint64) uint64 {
	if s := y & 0xffffffff; s < 64 {
		return x << s
	}
	return 0
}

func shl32(x, y uint64) uint64 {
	if s := y & 0xffffffff; s < 32 {
		return uint64(uint32(x) << s)
	}
	return 0
}

func shrU64(x, y uint64) uint64 {
	if s := y & 0xffffffff; s < 64 {
		return x >> s
	}
	return 0
}

func shrU32(x, y uint64) uint64 {
	if s := y & 0xffffffff; s < 32 {
		return uint64(uint32(x) >> s)
	}
	return 0
}

func shrS64(x, y uint64) uint64 { return uint64(int64(x) >> min(y&0xffffffff, 63)) }

func sel(c, x, y uint64) uint64 {
	if c&1 != 0 {
		return x
	}
	return y
}

// f32add is add (op 0), sub (1) or mul (2) rounded to f32, NaN canonical.
func f32add(x, y uint64, op int) uint64 {
	a, b := math.Float32frombits(uint32(x)), math.Float32frombits(uint32(y))
	var r float32
	switch op {
	case 0:
		r = a + b
	case 1:
		r = a - b
	default:
		r = a * b
	}
	return res32(r)
}

func f32div(x, y uint64) uint64 {
	return res32(math.Float32frombits(uint32(x)) / math.Float32frombits(uint32(y)))
}

func f32max(x, y uint64) uint64 {
	return res32(float32(fmax64(float64(math.Float32frombits(uint32(x))), float64(math.Float32frombits(uint32(y))))))
}
