package gguf

// The reader's limits, for the tests in package gguf_test.
const (
	MaxDims  = maxDims
	MaxDepth = maxDepth
)
