// Package driver is deepc's compiler driver: the sequences that turn a
// model file, a checkpoint and a bundle into something that runs. It owns
// model loading (config.json → sets → DSL → pipeline → weights →
// derived tensors → the precision mode's layout), pass plugins, bundle
// building, opening a bundle on a device, the training loop (schedule,
// metrics, checkpoints, spike and NaN handling) and the gpu-check
// harness.
//
// cmd/deepc is flags and printing over these functions; scripts/bench and
// the tests call the same ones, so there is one definition of each
// sequence. Named pipelines live in passes (passes.InferencePipeline, …),
// training hyperparameters in autodiff (autodiff.AdamW,
// autodiff.DeepSeekV3), both where lower layers' tests can reach them.
package driver
