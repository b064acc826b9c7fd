package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plot draws any values a metrics file can hold, the largest finite
// floats included, without hanging (issue 15: losses of ±1e308 hung it).
func TestPlotExtremes(t *testing.T) {
	for _, vals := range [][2]string{
		{"1e308", "-1e308"}, {"1.7976931348623157e308", "-1.7976931348623157e308"},
		{"5e-324", "-5e-324"}, {"0", "0"}, {"1e100", "1e-100"},
	} {
		dir := t.TempDir()
		var b strings.Builder
		for step := 1; step <= 4; step++ {
			v := vals[step%2]
			fmt.Fprintf(&b, `{"step":%d,"loss":%s,"ce":%s,"lr":%s,"grad_norm":%s}`+"\n", step, v, v, v, v)
		}
		fmt.Fprintf(&b, `{"step":1e308,"loss":1}`+"\n")
		os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(b.String()), 0o644)
		done := make(chan error, 1)
		go func() { _, err := PlotRun(dir, filepath.Join(dir, "p.png")); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("values %v: %v", vals, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("values %v: plot hangs", vals)
		}
	}
}
