package cpu

import (
	"sync"
	"sync/atomic"
)

// parallelFor calls fn on consecutive ranges [lo, hi) covering [0, n), each
// at least grain long (except the last), on up to workers goroutines. The
// ranges are handed out dynamically, a few per worker, so uneven work
// balances. The caller is one of the workers; with one worker or one
// range it runs fn alone.
func parallelFor(workers, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	if workers <= 1 || chunks <= 1 {
		fn(0, n)
		return
	}
	chunks = min(chunks, 4*workers)
	size := (n + chunks - 1) / chunks
	chunks = (n + size - 1) / size
	var next atomic.Int64
	var wg sync.WaitGroup
	var panicked atomic.Value
	g := min(workers, chunks)
	work := func() {
		defer wg.Done()
		defer func() {
			if r := recover(); r != nil {
				panicked.CompareAndSwap(nil, panicValue{r})
				next.Store(int64(chunks)) // stop handing out work
			}
		}()
		for {
			i := int(next.Add(1)) - 1
			if i >= chunks {
				return
			}
			fn(i*size, min((i+1)*size, n))
		}
	}
	wg.Add(g)
	for w := 1; w < g; w++ {
		go work()
	}
	work() // the caller is one of the workers
	wg.Wait()
	if p := panicked.Load(); p != nil {
		panic(p.(panicValue).v) // re-raised on the caller, where the executor recovers it
	}
}

type panicValue struct{ v any }

// parallel is parallelFor with the context's worker count.
func (c *Context) parallel(n, grain int, fn func(lo, hi int)) {
	parallelFor(c.workers, n, grain, fn)
}
