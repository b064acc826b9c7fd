package emu_test

import (
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/runtime/emu"
)

// A launch Hopper would refuse is refused, saying which limit.
func TestLaunchLimits(t *testing.T) {
	dev := emu.NewDevice(emu.Options{Sanitize: true})
	src := `.version 8.4
.target sm_90a
.address_size 64
.visible .entry k(.param .u64 k_param_0)
{
	ret;
}
.visible .entry g()
.maxntid 128, 1, 1
{
	wgmma.fence.sync.aligned;
	ret;
}
`
	if _, err := dev.LoadPTX(src); err != nil {
		t.Fatal(err)
	}
	one := [3]uint32{1, 1, 1}
	for _, c := range []struct {
		kernel string
		cfg    emu.LaunchConfig
		want   string
	}{
		{"k", emu.LaunchConfig{Grid: one, Block: [3]uint32{2048, 1, 1}, Args: []uint64{0}}, "Hopper allows 1024"},
		{"k", emu.LaunchConfig{Grid: one, Block: [3]uint32{1, 1, 128}, Args: []uint64{0}}, "z dimension"},
		{"k", emu.LaunchConfig{Grid: [3]uint32{1, 70000, 1}, Block: [3]uint32{32, 1, 1}, Args: []uint64{0}}, "exceeds Hopper's limits"},
		{"k", emu.LaunchConfig{Grid: [3]uint32{0, 1, 1}, Block: [3]uint32{32, 1, 1}, Args: []uint64{0}}, "empty"},
		{"k", emu.LaunchConfig{Grid: one, Block: [3]uint32{32, 1, 1}, DynShared: 300 << 10, Args: []uint64{0}}, "shared memory exceed"},
		{"k", emu.LaunchConfig{Grid: one, Block: [3]uint32{32, 1, 1}}, "0 arguments for 1 parameters"},
		{"g", emu.LaunchConfig{Grid: one, Block: [3]uint32{256, 1, 1}}, ".maxntid"},
		{"g", emu.LaunchConfig{Grid: one, Block: [3]uint32{96, 1, 1}}, "warpgroups are 128 threads"},
	} {
		_, err := dev.Run(c.kernel, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want an error saying %q", c.kernel, c.cfg, err, c.want)
		}
	}
	if _, err := dev.Run("nope", emu.LaunchConfig{}); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("an unknown kernel: %v", err)
	}
}
