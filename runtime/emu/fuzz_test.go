package emu

import (
	"os"
	"path/filepath"
	"testing"
)

// Parse never panics and never allocates without bound, whatever the
// PTX: bundles are inputs like any other.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ptx")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Add(".version 8.4\n.target sm_90a\n.address_size 64\n.visible .entry k()\n{\n.reg .b32 %r<4>;\nmov.u32 %r1, %tid.x;\nret;\n}\n")
	f.Add(".visible .entry k(.param .u64 p)\n{\n.reg .b64 %rd<99999999>;\n}\n")
	f.Add(".global .align 8 .b8 g[268435456];\n")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := Parse(src)
		if err != nil {
			return
		}
		for _, k := range m.Kernels {
			if k.code.nregs > maxRegisters {
				t.Fatalf("%d registers decoded", k.code.nregs)
			}
		}
	})
}
