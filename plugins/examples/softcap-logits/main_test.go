package main

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/plugins/sdk/plugintest"
)

func TestPasses(t *testing.T) { plugintest.Run(t, Plugin, "testdata/*.ir") }

func TestBadCap(t *testing.T) {
	src := "module @m {\n  func @f(%x: [4] f32) -> ([4] f32) {\n    return %x\n  }\n}\n"
	for _, c := range []string{"0", "-1", "x"} {
		_, _, err := plugintest.Apply(Plugin, "softcap-logits", map[string]string{"cap": c}, "m.ir", src)
		if err == nil || !strings.Contains(err.Error(), "option cap") {
			t.Errorf("cap=%s: %v, want an error about option cap", c, err)
		}
	}
}
