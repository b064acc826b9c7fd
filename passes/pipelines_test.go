package passes

import "testing"

func TestNamedPipelinesParse(t *testing.T) {
	for _, s := range []string{CanonicalPipeline, InferencePipeline, KernelPipeline, TrainKernelPipeline} {
		pl, err := ParsePipeline(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if pl.String() != s {
			t.Errorf("%q parses back as %q", s, pl.String())
		}
	}
}
