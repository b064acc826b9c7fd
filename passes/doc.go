// Package passes is deepc's pass manager and its transformations.
//
// A Pass rewrites or analyses an ir.Module. Passes are registered by name; a
// Pipeline is a comma-separated list of names ("canonicalize,cse,dce") that
// prints back the same. Ordering constraints between passes are data
// (passOrder), checked whenever a pipeline is built. Run executes a pipeline
// under instruments — verify-after-each, printing, dumping, timing, crash
// reproducers — which are plug-ins to the manager, never flags inside passes.
package passes
