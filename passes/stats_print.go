package passes

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
)

// JSON renders the stats as indented JSON (map keys sorted).
func (s Stats) JSON() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

// WriteTable prints the stats for people: exact counts with thousands
// separators and a rounded form beside them.
func (s Stats) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := []struct {
		name string
		n    int64
		unit string
	}{
		{"params total", s.ParamsTotal, ""},
		{"params activated / token", s.ParamsActivated, ""},
		{"params mtp", s.ParamsMTP, ""},
		{"flops / token", s.FLOPsPerToken, "FLOP"},
	}
	fmt.Fprintf(tw, "seq len\t%s\t\n", grouped(s.SeqLen))
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t(%s)\n", r.name, grouped(r.n), approx(r.n, r.unit))
	}
	for _, dt := range sortedKeys(s.WeightBytes) {
		b := s.WeightBytes[dt]
		fmt.Fprintf(tw, "weights %s\t%s\t(%s)\n", dt, grouped(b), approx(b, "B"))
	}
	for _, op := range sortedKeys(s.OpCounts) {
		fmt.Fprintf(tw, "op %s\t%d\t\n", op, s.OpCounts[op])
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// grouped prints n with thousands separators: 671,026,419,712.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// siUnits are the prefixes approx uses, largest first.
var siUnits = []struct {
	scale  float64
	prefix string
}{{1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "K"}}

// approx prints n to three significant figures with an SI prefix and the
// unit: "37.5 G", "1.15 KB", "578 FLOP".
func approx(n int64, unit string) string {
	num, prefix := strconv.FormatInt(n, 10), ""
	for _, u := range siUnits {
		if f := float64(n); f >= u.scale || -f >= u.scale {
			num, prefix = strconv.FormatFloat(f/u.scale, 'g', 3, 64), u.prefix
			break
		}
	}
	if prefix+unit == "" {
		return num
	}
	return num + " " + prefix + unit
}
