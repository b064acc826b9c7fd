package tokenizer

import (
	"strconv"
	"unicode/utf8"
)

// quoteTrunc quotes s, cut to at most n code points: an error message
// names a token or a pattern from the file, which can be long.
func quoteTrunc(s string, n int) string {
	p, cut := clip(s, n)
	q := strconv.Quote(p)
	if cut {
		q += "…"
	}
	return q
}

// clip returns the first n code points of s and whether that cut s.
func clip(s string, n int) (string, bool) {
	i := 0
	for k := 0; k < n; k++ {
		if i == len(s) {
			return s, false
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return s[:i], i < len(s)
}
