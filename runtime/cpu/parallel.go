package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelFor calls fn on consecutive ranges [lo, hi) covering [0, n), each
// at least grain long (except the last), on up to workers threads. The
// ranges are handed out dynamically, a few per worker, so uneven work
// balances. The caller is one of the workers; with one worker or one
// range it runs fn alone.
//
// The other workers are the persistent pool's (below); when the pool is
// taken (a nested call from inside fn, or another goroutine's call) the
// range runs on fresh goroutines instead, as before the pool existed.
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
	j := &job{fn: fn, n: n, size: size, chunks: int64(chunks)}
	helpers := min(workers, chunks) - 1
	if p := thePool(); p != nil && p.busy.CompareAndSwap(false, true) {
		p.run(j, helpers)
		p.busy.Store(false)
	} else {
		j.spawn(helpers)
	}
	if v := j.panicked.Load(); v != nil {
		panic(v.(panicValue).v) // re-raised on the caller, where the executor recovers it
	}
}

type panicValue struct{ v any }

// parallel is parallelFor with the context's worker count.
func (c *Context) parallel(n, grain int, fn func(lo, hi int)) {
	parallelFor(c.workers, n, grain, fn)
}

// job is one parallelFor: its chunks are taken by counter, and it is over
// when every chunk has finished (not when every helper has looked: a
// helper that wakes late finds nothing left and touches only this job).
type job struct {
	fn       func(lo, hi int)
	n, size  int
	chunks   int64
	next     atomic.Int64 // the next chunk to take
	finished atomic.Int64 // chunks done (or abandoned after a panic)
	slots    atomic.Int32 // helpers that may still join
	panicked atomic.Value // panicValue
}

// work takes chunks until none is left.
func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.chunks {
			return
		}
		j.chunk(int(i))
	}
}

// chunk runs chunk i; a panic stops the job (the remaining chunks are
// counted as finished, so that nobody waits for them) and is kept for the
// caller.
func (j *job) chunk(i int) {
	defer func() {
		if r := recover(); r != nil {
			j.panicked.CompareAndSwap(nil, panicValue{r})
			if left := j.chunks - j.next.Swap(j.chunks); left > 0 {
				j.finished.Add(left)
			}
		}
		j.finished.Add(1)
	}()
	j.fn(i*j.size, min((i+1)*j.size, j.n))
}

// spawn runs the job on helpers fresh goroutines and the caller.
func (j *job) spawn(helpers int) {
	var wg sync.WaitGroup
	wg.Add(helpers)
	for range helpers {
		go func() {
			defer wg.Done()
			j.work()
		}()
	}
	j.work()
	wg.Wait()
}

// The pool: GOMAXPROCS-1 goroutines that live as long as the process.
// Between jobs a worker spins for spinFor, then parks. Decode runs a few
// hundred small parallel loops per token, microseconds apart: waking a
// parked goroutine on another thread costs tens of microseconds (a futex
// and the scheduler), as long as many of those loops take, so a worker that
// is still spinning when the next loop comes is what makes a second core
// pay off (llama.cpp's threadpool spins the same way). A spinning worker
// yields its processor now and then, so the garbage collector and other
// goroutines still run.
//
// A latency-bound run (Options.Hot: a decode step) keeps the workers
// spinning for as long as it lasts: some of its serial stretches (routing,
// attention bookkeeping) outlast spinFor, and a parked worker then costs
// the next loop its wake-up. Other runs (tests run many at once on few
// cores) keep the short spin, so that spinning workers do not take the
// cores from them.
const spinFor = 50 * time.Microsecond

// hotRuns counts the Hot runs in progress.
var hotRuns atomic.Int32

type pool struct {
	busy   atomic.Bool
	hot    atomic.Int32        // workers the last job asked for: those spin through a Hot run
	gen    atomic.Uint64       // bumped for each job
	cur    atomic.Pointer[job] // the job of the latest generation
	parked []atomic.Bool
	wake   []chan struct{}
}

var (
	poolOnce sync.Once
	poolPtr  *pool
)

// thePool starts the pool on first use; nil on a single processor.
func thePool() *pool {
	poolOnce.Do(func() {
		n := runtime.GOMAXPROCS(0) - 1
		if n < 1 {
			return
		}
		p := &pool{parked: make([]atomic.Bool, n), wake: make([]chan struct{}, n)}
		for i := range n {
			p.wake[i] = make(chan struct{}, 1)
			go p.worker(i)
		}
		poolPtr = p
	})
	return poolPtr
}

// run publishes j to up to helpers workers, works on it, and waits until
// every chunk has finished.
func (p *pool) run(j *job, helpers int) {
	j.slots.Store(int32(helpers))
	p.hot.Store(int32(helpers))
	p.cur.Store(j)
	p.gen.Add(1)
	woken := 0
	for i := range p.parked {
		if woken >= helpers {
			break
		}
		if p.parked[i].CompareAndSwap(true, false) {
			p.wake[i] <- struct{}{}
		}
		woken++ // a spinning worker sees the generation by itself
	}
	j.work()
	for spins := 0; j.finished.Load() < j.chunks; spins++ {
		if spins&63 == 63 {
			runtime.Gosched()
		}
	}
	p.cur.CompareAndSwap(j, nil) // let go of fn and what it holds
}

// worker runs the jobs it sees, spinning between them, parking when none
// comes for spinFor.
func (p *pool) worker(i int) {
	seen := p.gen.Load()
	for {
		seen = p.await(i, seen)
		j := p.cur.Load()
		if j != nil && j.slots.Add(-1) >= 0 {
			j.work()
		}
	}
}

// await returns the first generation after seen.
func (p *pool) await(i int, seen uint64) uint64 {
	deadline := time.Now().Add(spinFor)
	for spins := 0; ; spins++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if spins&255 != 255 {
			continue
		}
		runtime.Gosched()
		if hotRuns.Load() > 0 && int32(i) < p.hot.Load() || time.Now().Before(deadline) {
			continue
		}
		// Park: announce it, then look once more, so that a job
		// published in between is not missed.
		p.parked[i].Store(true)
		if g := p.gen.Load(); g != seen {
			if !p.parked[i].CompareAndSwap(true, false) {
				<-p.wake[i] // the publisher saw us parked and sent
			}
			return g
		}
		<-p.wake[i]
		deadline = time.Now().Add(spinFor)
	}
}
