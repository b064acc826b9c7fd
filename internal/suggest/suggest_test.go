package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"dim", "n_layers", "canonicalize", "cse", "dce"}
	for _, tc := range []struct{ in, want string }{
		{"dimm", "dim"},
		{"n_layer", "n_layers"},
		{"canonicalise", "canonicalize"},
		{"cs", "cse"},
		{"frobnicate", ""},
	} {
		if got := Closest(tc.in, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"cse", "cse", 0}, {"cse", "dce", 2}, {"cse", "cs", 1}, {"dce", "dec", 2}, {"kitten", "sitting", 3}, {"", "abc", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
