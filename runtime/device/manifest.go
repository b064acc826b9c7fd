package device

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/deepc-dev/deepc/runtime/bundle"
)

// CheckManifest checks what bundle.Open cannot (it verifies files, not
// what the manifest says of them): every graph is a program, every kernel
// names files the manifest lists, and every launch names a kernel. A
// manifest that passed the hashes but points its kernels at other files
// or launches kernels it does not have is refused here, before anything
// runs, rather than said "ok" (bundle verify) and refused halfway.
func CheckManifest(man *bundle.Manifest) error {
	if len(man.Graphs) == 0 {
		return fmt.Errorf("manifest: no graphs")
	}
	var ks []struct {
		Name  string `json:"name"`
		PTX   string `json:"ptx"`
		Cubin string `json:"cubin"`
	}
	if err := json.Unmarshal(man.Kernels, &ks); err != nil {
		return fmt.Errorf("manifest: kernels: %v", err)
	}
	names := map[string]bool{}
	for _, k := range ks {
		if k.Name == "" || names[k.Name] {
			return fmt.Errorf("manifest: kernel name %q is empty or repeated", k.Name)
		}
		names[k.Name] = true
		for _, f := range []string{k.PTX, k.Cubin} {
			if _, ok := man.Files[f]; f != "" && !ok {
				return fmt.Errorf("manifest: kernel %s names file %q, which the bundle does not list", k.Name, f)
			}
		}
		if k.PTX == "" && k.Cubin == "" {
			return fmt.Errorf("manifest: kernel %s has no file", k.Name)
		}
	}
	programs, err := Programs(man)
	if err != nil {
		return err
	}
	for _, g := range slices.Sorted(maps.Keys(programs)) {
		for i, st := range programs[g] {
			if !names[st.Kernel] {
				return fmt.Errorf("manifest: graph %s, step %d launches kernel %q, which the bundle does not have", g, i, st.Kernel)
			}
		}
	}
	return nil
}
