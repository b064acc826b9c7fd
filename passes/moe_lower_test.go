package passes

import (
	"os"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// moe-block is input (a flag, a plugin option): out of 1..MaxMoEBlock it
// is refused with the option named, not turned into sizes that overflow
// (issue 15: 2^63−1 gave "produced invalid IR: bad affine dim").
func TestMoEBlockRange(t *testing.T) {
	src, err := os.ReadFile("testdata/moe-lower.ir")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := ParsePipeline("moe-lower")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0", "-4", "4097", "9223372036854775807", "1e9", "x"} {
		m, err := ir.Parse("moe-lower.ir", string(src))
		if err != nil {
			t.Fatal(err)
		}
		err = Run(&Context{Options: map[string]string{"moe-block": v}}, m, pl)
		if err == nil || !strings.Contains(err.Error(), "moe-block") || !strings.Contains(err.Error(), "from 1 to 4096") {
			t.Errorf("moe-block=%s: %v", v, err)
		}
	}
	m, _ := ir.Parse("moe-lower.ir", string(src))
	if err := Run(&Context{Options: map[string]string{"moe-block": "4096"}}, m, pl); err != nil {
		t.Errorf("moe-block=4096: %v", err)
	}
}
