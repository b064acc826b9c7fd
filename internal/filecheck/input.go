package filecheck

import "strings"

// input is the text under check, split into lines. Matching runs on the
// whitespace-normalised lines; errors quote the original ones.
type input struct {
	orig []string
	norm []string
}

// pos is a place in the input: a 0-based line and a byte offset into that
// line's normalised text.
type pos struct{ line, col int }

func (p pos) before(q pos) bool {
	return p.line < q.line || p.line == q.line && p.col < q.col
}

// match is where a pattern was found: [start, end) on one line, and the
// text of each submatch (groups[0] is the whole match).
type match struct {
	start, end pos
	groups     []string
}

func newInput(s string) *input {
	s = strings.TrimSuffix(s, "\n")
	in := &input{orig: strings.Split(s, "\n")}
	for _, l := range in.orig {
		in.norm = append(in.norm, normalize(l))
	}
	return in
}

// end is the position just past the last character of the input.
func (in *input) end() pos {
	last := len(in.norm) - 1
	return pos{last, len(in.norm[last])}
}

// lineEnd is the position at the end of line i.
func (in *input) lineEnd(i int) pos { return pos{i, len(in.norm[i])} }

// find returns the first match of mt that starts at or after from and ends
// at or before to, with the text of each submatch. Matches never span
// lines; a regex's ^ and $ hold at the bounds of the search on a line.
func (in *input) find(mt *matcher, from, to pos) (match, bool) {
	for l := from.line; l <= to.line && l < len(in.norm); l++ {
		lo, hi := 0, len(in.norm[l])
		if l == from.line {
			lo = from.col
		}
		if l == to.line {
			hi = to.col
		}
		if lo > hi {
			continue
		}
		text := in.norm[l][lo:hi]
		idx := mt.re.FindStringSubmatchIndex(text)
		if idx == nil {
			continue
		}
		m := match{start: pos{l, lo + idx[0]}, end: pos{l, lo + idx[1]}, groups: make([]string, len(idx)/2)}
		for g := range m.groups {
			if idx[2*g] >= 0 { // an optional group that did not take part stays ""
				m.groups[g] = text[idx[2*g]:idx[2*g+1]]
			}
		}
		return m, true
	}
	return match{}, false
}

// origCol maps a byte offset in line l's normalised text to the offset in
// the original line, for messages that quote the original.
func (in *input) origCol(l, col int) int {
	orig, i := in.orig[l], 0
	for n := 0; n < col && i < len(orig); n++ {
		if !isSpace(rune(orig[i])) {
			i++
			continue
		}
		for i < len(orig) && isSpace(rune(orig[i])) {
			i++
		}
	}
	return i
}

// nearMiss suggests the line in [from, to] that holds the longest prefix of
// pat (a pattern's leading literal text), as FileCheck's "possible intended
// match"; -1 when no line shares even a few characters.
func (in *input) nearMiss(pat string, from, to pos) int {
	best, bestLen := -1, 3 // ignore accidental one- or two-character overlaps
	for l := from.line; l <= to.line && l < len(in.norm); l++ {
		n := longestPrefixIn(pat, in.norm[l])
		if n > bestLen {
			best, bestLen = l, n
		}
	}
	return best
}

// longestPrefixIn is the length of the longest prefix of pat found in text.
func longestPrefixIn(pat, text string) int {
	lo, hi := 0, len(pat)
	for lo < hi { // binary search: prefixes found form a downward-closed set
		mid := (lo + hi + 1) / 2
		if strings.Contains(text, pat[:mid]) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}
