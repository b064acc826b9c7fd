package runtime

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// memoryBudget is --max-memory in bytes; 0 means the machine's available
// memory, read when a check is made.
var memoryBudget atomic.Int64

// SetMemoryBudget sets the budget every size derived from input is
// checked against before it is allocated (--max-memory); 0 restores the
// default, the machine's available memory.
func SetMemoryBudget(n int64) { memoryBudget.Store(max(n, 0)) }

// MemoryBudget is the budget in bytes and where it comes from; 0 when
// there is none (no --max-memory and the machine does not say).
func MemoryBudget() (int64, string) {
	if b := memoryBudget.Load(); b > 0 {
		return b, "--max-memory"
	}
	return available.get(), "the machine's available memory; --max-memory sets another budget"
}

// available is AvailableMemory read at most once a second: budgets are
// checked on every device allocation, and a read of /proc/meminfo costs
// more than a small allocation.
var available availableCache

type availableCache struct {
	mu   sync.Mutex
	n    int64
	read time.Time
}

func (c *availableCache) get() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.read) > time.Second {
		c.n, c.read = AvailableMemory(), now
	}
	return c.n
}

// CheckBudget refuses need bytes for what (a phrase naming the input that
// implies them) when they exceed the memory budget, saying by how much.
func CheckBudget(what string, need int64) error {
	budget, from := MemoryBudget()
	if budget > 0 && need > budget {
		return fmt.Errorf("%s needs %s, more than the memory budget of %s (%s) by %s", what, HumanBytes(need), HumanBytes(budget), from, HumanBytes(need-budget))
	}
	return nil
}

// HumanBytes writes n bytes in the largest binary unit that keeps it >= 1
// ("12.3 MiB"): budgets, refusals and inspect's checkpoint size.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}
