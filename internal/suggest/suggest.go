// Package suggest finds the known name a misspelt one most likely meant, for
// "did you mean" hints in the DSL and the pass manager.
package suggest

import "slices"

// Closest returns the candidate nearest to name by edit distance, or "" if
// none is near enough to be a likely typo. Ties go to the first in sorted
// order, so hints are deterministic.
func Closest(name string, candidates []string) string {
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	best, bestD := "", len(name)/3+2 // allow about one edit per three letters
	for _, c := range sorted {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
