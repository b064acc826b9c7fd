package runtime

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// AvailableMemory is how much memory the machine can still give, in bytes
// (Linux's MemAvailable); 0 when it cannot tell. Sizes derived from input
// are checked against it before they are allocated.
func AvailableMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil || kb < 0 || kb > math.MaxInt64/1024 {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// HostBytes is what NewTensor allocates for n elements of dt (a float32
// per float, an int64 per integer); false when n is negative or the bytes
// overflow.
func HostBytes(dt ir.DType, n int64) (int64, bool) {
	per := int64(8)
	if dt.IsFloat() {
		per = 4
	}
	if n < 0 || n > math.MaxInt64/per {
		return 0, false
	}
	return n * per, true
}

// MulSizes is the product of sizes derived from input (dims, element
// counts, bytes per element): false when one is negative or the product
// overflows an int64, which a plain multiplication would wrap silently.
func MulSizes(xs ...int64) (int64, bool) {
	p := int64(1)
	for _, x := range xs {
		if x < 0 {
			return 0, false
		}
		if x != 0 && p > math.MaxInt64/x {
			return 0, false
		}
		p *= x
	}
	return p, true
}
