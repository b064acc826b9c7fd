// Package plugins will host out-of-process optimization passes (go-plugin
// over gRPC), wrapping each as an ordinary pass whose output IR is parsed
// and verified before it is trusted. Empty until the plugins issue; see
// DESIGN.md §5.
package plugins
