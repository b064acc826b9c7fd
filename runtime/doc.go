// Package runtime will execute compiled programs: the CPU backend (the
// numerical reference), the CUDA backend, weights, tokenizer, generation and
// training. It is empty until the CPU runtime issue; see DESIGN.md §8.
package runtime
