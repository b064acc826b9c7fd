// Package layering holds no code, only the test that keeps the project's
// import layers: ir at the bottom; program, the compiled-program format,
// on ir alone; the compiler (dsl, passes, codegen) apart from the runtimes;
// the runtime backends (cpu, cuda, emu) apart from each other. A package
// that reaches across a layer makes the compiler and the runtimes change
// together, which these rules exist to prevent. Test files are exempt: a
// runtime test may compile kernels to run them.
package layering
