// Package emu is a virtual Hopper GPU: it executes the PTX deepc emits —
// the bundle's .ptx files, not a model of them — with the semantics of the
// PTX ISA (docs/ptx-isa-notes.md, written from the ISA document and never
// from deepc's emitters), and checks every memory access and
// synchronisation as compute-sanitizer does.
//
// Parse reads a module and decodes each instruction once into a compact
// form (registers resolved to indices, immediates to constant registers,
// branch targets and reconvergence points computed); an instruction it
// does not implement is an error at load time. Execution is per warp: an
// instruction is applied to the active lanes of one warp in a loop over
// its register file (generated loops for the hottest opcodes). A warp's
// lanes may diverge and reconverge at the branch's immediate
// post-dominator; CTAs run in parallel over host cores; a CTA's warps
// interleave in an order drawn from Options.Seed.
//
// Hopper's wgmma runs over the 4 warps of a warpgroup: shared-memory
// descriptors decoded bit for bit (every swizzle mode, K- and MN-major),
// A from shared memory or registers, results held back until the
// wgmma.wait_group that retires their commit group.
//
// The sanitizer (Options.Sanitize) reports, by kernel, PTX line, thread
// and CTA: out-of-bounds and misaligned accesses (global memory is checked
// against each tensor the launch was given, not only the allocation),
// writes to a kernel's inputs, reads of memory never written, shared-memory
// races between warps with no barrier between, divergent and deadlocked
// barriers, undefined registers reaching an address, a store, a branch or
// a wgmma, and the wgmma protocol (fences, in-flight accumulators and
// shared memory, fence.proxy.async). A launch with findings returns a
// *Report.
//
// Device implements device.Backend, so a bundle's programs run on it
// through device.Executor (deepc run --device emu, deepc gpu-check
// --device emu).
package emu
