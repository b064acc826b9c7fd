package emu

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind classifies a sanitizer finding.
type Kind string

const (
	KindOutOfBounds   Kind = "out-of-bounds"
	KindMisaligned    Kind = "misaligned"
	KindUninitialized Kind = "uninitialized-read"
	KindReadOnly      Kind = "write-to-input"
	KindRace          Kind = "shared-race"
	KindBarrier       Kind = "barrier"
	KindDeadlock      Kind = "deadlock"
	KindDivergence    Kind = "divergence"
	KindUndefined     Kind = "undefined-register"
	KindWGMMA         Kind = "wgmma"
	KindHang          Kind = "hang"
	KindLaunch        Kind = "launch"
	KindArith         Kind = "arithmetic"
	KindAsync         Kind = "async"
)

// Finding is one defect the emulator saw, at the first thread that showed
// it.
type Finding struct {
	Kind   Kind
	Kernel string
	Line   int    // PTX line of the instruction
	Inst   string // the instruction
	CTA    [3]uint32
	Thread [3]uint32
	Msg    string
	Count  int // how many times (threads × executions) it happened
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s.ptx:%d: %s\n    %s\n    first at thread (%d,%d,%d) of CTA (%d,%d,%d); %d occurrence(s)",
		f.Kind, f.Kernel, f.Line, f.Msg, f.Inst, f.Thread[0], f.Thread[1], f.Thread[2], f.CTA[0], f.CTA[1], f.CTA[2], f.Count)
}

// Report is the findings of a launch: an error when it holds any.
type Report struct {
	Kernel   string
	Findings []Finding
}

func (r *Report) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sanitizer: %d finding(s) in kernel %s", len(r.Findings), r.Kernel)
	for _, f := range r.Findings {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(f.String(), "\n", "\n  "))
	}
	return b.String()
}

// Has reports whether the report holds a finding of kind k.
func (r *Report) Has(k Kind) bool {
	for _, f := range r.Findings {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// collector gathers findings from the CTAs of a launch, one per (kind,
// line), counting repeats.
type collector struct {
	mu    sync.Mutex
	byKey map[string]*Finding
	order []string
	limit int
}

func (c *collector) add(f Finding) {
	key := fmt.Sprintf("%s:%d", f.Kind, f.Line)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*Finding{}
	}
	if old, ok := c.byKey[key]; ok {
		old.Count++
		return
	}
	if len(c.order) >= c.limit {
		return
	}
	f.Count = 1
	c.byKey[key] = &f
	c.order = append(c.order, key)
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// report returns the findings in PTX line order, or nil.
func (c *collector) report(kernel string) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.order) == 0 {
		return nil
	}
	r := &Report{Kernel: kernel}
	for _, k := range c.order {
		r.Findings = append(r.Findings, *c.byKey[k])
	}
	sort.SliceStable(r.Findings, func(i, j int) bool { return r.Findings[i].Line < r.Findings[j].Line })
	return r
}
