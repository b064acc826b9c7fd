package passes

// The named pipelines deepc runs. Each is defined here once; commands,
// benchmarks and tests use these names, so none can test a stale copy.
const (
	// CanonicalPipeline simplifies without changing the program's form:
	// deepc compile's default, and the training form (no cache, no fusion,
	// no MoE lowering, params under their checkpoint names) that grad,
	// train and autodiff start from.
	CanonicalPipeline = "canonicalize,cse,dce"

	// InferencePipeline derives prefill/decode over a latent KV cache,
	// absorbs MLA's up-projections for decode, fuses sibling GEMMs and
	// lowers the experts to dispatch, grouped GEMMs and combine.
	InferencePipeline = "canonicalize,kv-cache,mla-absorb,fuse-siblings,moe-lower,cse,dce"

	// KernelPipeline is InferencePipeline with every function split into
	// kernel regions: what compile --target runs. Composite ops are planned
	// as one op each, then inlined for codegen.
	KernelPipeline = InferencePipeline + ",plan-kernels,expand-composites"

	// TrainKernelPipeline runs after autodiff built a train program: the
	// trainable fp8 weights become the bf16 the program reads from its f32
	// masters, then regions are planned.
	TrainKernelPipeline = "master-weights,plan-kernels,expand-composites"
)
