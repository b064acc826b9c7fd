package models

import "regexp"

// copyRE matches the tensors DeepSeek-V3's checkpoint stores again under an
// MTP layer (model.layers.61.embed_tokens.weight, ...shared_head.head.weight):
// copies of the shared embedding and output head, which the model reads
// under their main names.
var copyRE = regexp.MustCompile(`^model\.layers\.\d+\.(embed_tokens\.weight|shared_head\.head\.weight)$`)

// CheckpointCopy reports whether a checkpoint tensor is such a copy.
func CheckpointCopy(name string) bool { return copyRE.MatchString(name) }
