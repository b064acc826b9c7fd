package autodiff

// AdamW is DeepSeek-V3's optimizer setting (docs/model.md §7): β1 0.9,
// β2 0.95, ε 1e-8, decoupled weight decay 0.1, gradient clipping at 1.0.
// With no auxiliary losses and fixed biases it is also the plain
// next-token recipe the PyTorch comparison trains with.
var AdamW = TrainOptions{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 1}

// DeepSeekV3 is AdamW with DeepSeek-V3's losses and balancing: the MTP loss
// at λ = 0.3 (docs/model.md §6, early training), the sequence-wise balance
// loss at α = 1e-4 and the auxiliary-loss-free bias update at γ = 0.001
// (docs/model.md §4).
var DeepSeekV3 = func() TrainOptions {
	o := AdamW
	o.MTPWeight, o.BalanceWeight, o.BiasRate = 0.3, 1e-4, 0.001
	return o
}()
