// Package weights reads and writes Hugging Face safetensors checkpoints and
// binds them to a compiled module's params (docs/design.md §8, docs/model.md §5, §8).
//
// Reading: Open validates one file's header like the reference
// implementation (header length <= 100 MB, valid UTF-8 JSON object, no
// duplicate names, known dtypes, sizes = numel × dtype size with overflow
// checks, tensors tiling the data section exactly: in bounds, no gaps, no
// overlaps, no trailing bytes) and reads tensor data only on demand
// (ReadAt). OpenCheckpoint opens a directory: model.safetensors, or
// model.safetensors.index.json and the shards its weight_map names (plain
// file names only; tensor names are never used as paths).
//
// Binding: a param's name is its checkpoint name; "{e}" in it stacks
// name(e=0..E-1) along a new axis 0. F32/BF16/F16 data becomes float32
// values of the param's dtype (rounded to nearest even when narrower);
// F8_E4M3 data with a "<name>_scale_inv" sibling becomes a block-quantized
// runtime.Tensor (DType f8e4m3, Scale, Block). See Binding for the rules.
// Inspect checks a checkpoint's headers against a module without reading
// tensor data.
//
// Writing: WriteCheckpoint and RandomCheckpoint produce deterministic
// checkpoints in the same layout, for tests and tools.
package weights
