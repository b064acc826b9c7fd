// Package device runs a bundle's programs on any backend that can hold
// memory and launch the bundle's kernels: the Backend interface, the
// Executor (weights, arguments, the memory plan of one arena, in-place
// steps, launches), the device byte layouts (Encode/Decode), RegionFunc
// (a step's region as an IR function, for backends that compute it from
// the IR), and CompareBackend, which checks every launch of one backend
// against another.
//
// The backends implement Backend without importing each other:
// runtime/cpu.Device (each region on the CPU backend; the reference),
// runtime/cuda.GPU (the driver) and runtime/emu.Device (the PTX emulator).
package device
