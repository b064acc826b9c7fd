package emu

import "math/bits"

// Reconvergence points. Hardware since Volta lets a warp's lanes run
// apart, and ptxas makes them meet again where the paths of a branch join
// (it inserts convergence barriers at the branch's immediate
// post-dominator). Aligned instructions after the join (bar.sync, shfl,
// wgmma) rely on that, so the emulator reconverges at the same place: the
// first instruction of the branch block's immediate post-dominator.

// reconvergence computes, for every conditional branch, the instruction
// where the lanes it splits meet again (-1 when they only meet at exit).
func reconvergence(insts []inst) []int32 {
	n := len(insts)
	rpc := make([]int32, n)
	for i := range rpc {
		rpc[i] = -1
	}
	if n == 0 {
		return rpc
	}
	// Basic blocks: leaders are the entry, branch targets, and the
	// instructions after a branch or exit.
	leader := make([]bool, n+1)
	leader[0] = true
	for i := range insts {
		switch insts[i].kind {
		case kBranch:
			if t := int(insts[i].target); t < n {
				leader[t] = true
			}
			leader[i+1] = true
		case kExit:
			leader[i+1] = true
		}
	}
	var starts []int
	blockOf := make([]int, n)
	for i := 0; i < n; i++ {
		if leader[i] {
			starts = append(starts, i)
		}
		blockOf[i] = len(starts) - 1
	}
	nb := len(starts)
	exit := nb // the virtual exit node
	end := func(b int) int {
		if b+1 < nb {
			return starts[b+1] - 1
		}
		return n - 1
	}
	succ := make([][]int, nb)
	next := func(i int) int {
		if i+1 >= n {
			return exit
		}
		return blockOf[i+1]
	}
	for b := 0; b < nb; b++ {
		last := end(b)
		in := &insts[last]
		switch {
		case in.kind == kBranch:
			t := exit
			if int(in.target) < n {
				t = blockOf[in.target]
			}
			succ[b] = append(succ[b], t)
			if in.guard >= 0 {
				succ[b] = append(succ[b], next(last))
			}
		case in.kind == kExit:
			succ[b] = append(succ[b], exit)
			if in.guard >= 0 {
				succ[b] = append(succ[b], next(last))
			}
		default:
			succ[b] = append(succ[b], next(last))
		}
	}
	// Post-dominator sets as bit sets, by iteration to a fixed point:
	// pdom(exit) = {exit}; pdom(b) = {b} ∪ ∩ pdom(successors).
	words := (nb + 1 + 63) / 64
	pdom := make([][]uint64, nb+1)
	for b := range pdom {
		pdom[b] = make([]uint64, words)
		if b == exit {
			pdom[b][exit/64] |= 1 << (exit % 64)
			continue
		}
		for i := range pdom[b] {
			pdom[b][i] = ^uint64(0)
		}
	}
	tmp := make([]uint64, words)
	for changed := true; changed; {
		changed = false
		for b := nb - 1; b >= 0; b-- {
			for i := range tmp {
				tmp[i] = ^uint64(0)
			}
			for _, s := range succ[b] {
				for i := range tmp {
					tmp[i] &= pdom[s][i]
				}
			}
			tmp[b/64] |= 1 << (b % 64)
			for i := range tmp {
				if tmp[i] != pdom[b][i] {
					copy(pdom[b], tmp)
					changed = true
					break
				}
			}
		}
	}
	has := func(set []uint64, x int) bool { return set[x/64]>>(x%64)&1 != 0 }
	// The strict post-dominators of b form a chain; the immediate one is
	// post-dominated by all the others: the one with the largest set.
	count := func(set []uint64) int {
		c := 0
		for _, w := range set {
			c += bits.OnesCount64(w)
		}
		return c
	}
	ipdom := func(b int) int {
		best, size := exit, -1
		for c := 0; c <= nb; c++ {
			if c != b && has(pdom[b], c) {
				if s := count(pdom[c]); s > size {
					best, size = c, s
				}
			}
		}
		return best
	}
	for b := 0; b < nb; b++ {
		last := end(b)
		if insts[last].kind != kBranch || insts[last].guard < 0 {
			continue
		}
		if p := ipdom(b); p != exit {
			rpc[last] = int32(starts[p])
		}
	}
	return rpc
}
