package passes

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// statsModule is a tiny MoE-shaped model. Element counts:
//
//	embed    [16, 8]  bf16  128  forward (gather) and mtp (tied head)
//	w_up     [12, 8]  bf16   96  forward, linear
//	router   [4, 12]  f32    48  forward, linear
//	experts  [4, 72]  bf16  288  forward, reshaped to [E=4, 6, 12] for grouped_linear with k=2
//	mtp_proj [8, 8]   bf16   64  mtp only
//	unused   [3, 3]   bf16    9  read only by a dead op: not counted
const statsModule = `module @tiny {
  param @embed : [16, 8] bf16
  param @w_up : [12, 8] bf16
  param @router : [4, 12] f32
  param @experts : [4, 72] bf16
  param @mtp_proj : [8, 8] bf16
  param @unused : [3, 3] bf16

  func @forward(%ids: [T] i32) -> ([T, 2, 6] bf16) {
    %0 = param {name = "embed"} : [16, 8] bf16
    %1 = gather %0, %ids {axis = 0} : [T, 8] bf16
    %2 = param {name = "w_up"} : [12, 8] bf16
    %3 = linear %1, %2 : [T, 12] bf16
    %4 = cast %3 {dtype = f32} : [T, 12] f32
    %5 = param {name = "router"} : [4, 12] f32
    %6 = linear %4, %5 : [T, 4] f32
    %7 = route %6 {groups = 2, k = 2, topk_groups = 2} : [T, 2] i32
    %8 = param {name = "experts"} : [4, 72] bf16
    %9 = reshape %8 {shape = [4, 6, 12]} : [4, 6, 12] bf16
    %10 = grouped_linear %3, %9, %7 : [T, 2, 6] bf16
    %11 = param {name = "unused"} : [3, 3] bf16
    %12 = exp %11 : [3, 3] bf16
    return %10
  }

  func @mtp(%h: [T, 8] bf16) -> ([T, 16] bf16) {
    %0 = param {name = "mtp_proj"} : [8, 8] bf16
    %1 = linear %h, %0 : [T, 8] bf16
    %2 = param {name = "embed"} : [16, 8] bf16
    %3 = linear %1, %2 : [T, 16] bf16
    return %3
  }
}
`

func TestComputeStats(t *testing.T) {
	s := ComputeStats(parse(t, statsModule), 0)
	want := Stats{
		SeqLen: DefaultSeqLen,
		// What forward reads: 128 + 96 + 48 + 288; @unused is read only by
		// a dead op, and mtp_proj only by mtp.
		ParamsTotal: 560,
		// embed, w_up and router fully (128 + 96 + 48), the experts at
		// k/E = 2/4 (288 * 2 / 4 = 144): 416. mtp_proj is not in forward.
		ParamsActivated: 416,
		// mtp reads mtp_proj and embed; embed is forward's too.
		ParamsMTP: 64,
		// Per token (every op is linear in T, so any seq len gives this):
		//   gather, cast, reshape, param       0
		//   linear [T,8]·[12,8]ᵀ   2*12*8  = 192
		//   linear [T,12]·[4,12]ᵀ  2*4*12  =  96
		//   route, one per result element  =   2 (k = 2)
		//   grouped_linear [T,2,6], in 12  = 2*2*6*12 = 288
		// 192 + 96 + 2 + 288 = 578. The dead exp does not count.
		FLOPsPerToken: 578,
		// bf16: (128 + 96 + 288 + 64) * 2 = 1152; f32: 48 * 4 = 192.
		WeightBytes: map[string]int64{"bf16": 1152, "f32": 192},
		// Live ops of both functions.
		OpCounts: map[string]int64{"param": 6, "gather": 1, "linear": 4, "cast": 1, "route": 1, "reshape": 1, "grouped_linear": 1},
	}
	checkStats(t, s, want)
}

func checkStats(t *testing.T, got, want Stats) {
	t.Helper()
	if got.SeqLen != want.SeqLen || got.ParamsTotal != want.ParamsTotal || got.ParamsActivated != want.ParamsActivated ||
		got.ParamsMTP != want.ParamsMTP || got.FLOPsPerToken != want.FLOPsPerToken ||
		!maps.Equal(got.WeightBytes, want.WeightBytes) || (want.OpCounts != nil && !maps.Equal(got.OpCounts, want.OpCounts)) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

// Attention's FLOPs grow with the sequence, so FLOPs per token depend on
// the seq len every symbolic dim is bound to.
const attentionModule = `module @attn {
  func @forward(%q: [T, 2, 4] f32, %pos: [T] i32, %seq: [T] i32) -> ([T, 2, 4] f32) {
    %0 = attention %q, %q, %q, %pos, %seq {scale = 0.5} : [T, 2, 4] f32
    return %0
  }
}
`

func TestStatsSeqLen(t *testing.T) {
	// Causal: 2 * H * T(T+1)/2 * (dq + dv) = 2*2*(T(T+1)/2)*8 = 16 T(T+1);
	// per token 16 (T+1).
	for _, tc := range []struct{ seqLen, perToken int64 }{
		{0, 16 * (DefaultSeqLen + 1)},
		{8, 16 * 9},
		{1, 32},
	} {
		s := ComputeStats(parse(t, attentionModule), tc.seqLen)
		if s.FLOPsPerToken != tc.perToken {
			t.Errorf("seq len %d: %d FLOPs per token, want %d", tc.seqLen, s.FLOPsPerToken, tc.perToken)
		}
	}
}

// A param that reaches grouped_linear's weights and also something else is
// read fully by each token.
func TestStatsSharedExpertWeights(t *testing.T) {
	src := `module @m {
  param @w : [4, 6, 8] f32

  func @forward(%x: [T, 8] f32, %idx: [T, 1] i32) -> ([T, 1, 6] f32, [4, 6] f32) {
    %0 = param {name = "w"} : [4, 6, 8] f32
    %1 = grouped_linear %x, %0, %idx : [T, 1, 6] f32
    %2 = sum %0 {axis = 2} : [4, 6] f32
    return %1, %2
  }
}
`
	s := ComputeStats(parse(t, src), 16)
	checkStats(t, s, Stats{SeqLen: 16, ParamsTotal: 192, ParamsActivated: 192, WeightBytes: map[string]int64{"f32": 768},
		// grouped_linear 2*(T*1*6)*8 = 96 T; sum reads 192 elements, 192/16 = 12 per token.
		FLOPsPerToken: 96 + 12})
	// Without the other use: k/E = 1/4 of 192.
	src = strings.Replace(src, "return %1, %2", "return %1, %1", 1)
	src = strings.Replace(src, "-> ([T, 1, 6] f32, [4, 6] f32)", "-> ([T, 1, 6] f32, [T, 1, 6] f32)", 1)
	if s := ComputeStats(parse(t, src), 16); s.ParamsActivated != 48 {
		t.Errorf("activated = %d, want 48", s.ParamsActivated)
	}
}

func TestStatsNoForward(t *testing.T) {
	s := ComputeStats(parse(t, `module @m {
  param @w : [2] f32

  func @other(%x: [2] f32) -> ([2] f32) {
    %0 = param {name = "w"} : [2] f32
    %1 = add %x, %0 : [2] f32
    return %1
  }
}
`), 0)
	checkStats(t, s, Stats{SeqLen: DefaultSeqLen, ParamsTotal: 2, WeightBytes: map[string]int64{"f32": 8}})
}

func TestStatsPass(t *testing.T) {
	pl, err := ParsePipeline("stats")
	if err != nil {
		t.Fatal(err)
	}
	ctx := &Context{Options: map[string]string{"seq-len": "8"}, Instruments: []Instrument{CheckChanged()}}
	if err := Run(ctx, parse(t, statsModule), pl); err != nil {
		t.Fatal(err)
	}
	if ctx.Stats == nil || ctx.Stats.SeqLen != 8 || ctx.Stats.ParamsActivated != 416 {
		t.Errorf("ctx.Stats = %+v", ctx.Stats)
	}
	ctx.Options["seq-len"] = "many"
	if err := Run(ctx, parse(t, statsModule), pl); err == nil || !strings.Contains(err.Error(), "pass stats (1/1)") {
		t.Errorf("bad seq-len: %v", err)
	}
}

func TestStatsJSON(t *testing.T) {
	data, err := ComputeStats(parse(t, statsModule), 0).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"params_total": 560, "params_activated": 416, "params_mtp": 64, "flops_per_token": 578, "seq_len": 4096}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	wb, _ := got["weight_bytes"].(map[string]any)
	if wb["bf16"] != 1152.0 || wb["f32"] != 192.0 {
		t.Errorf("weight_bytes = %v", got["weight_bytes"])
	}
	// Integers print as integers, not floats.
	if !strings.Contains(string(data), `"params_total": 560,`) {
		t.Errorf("JSON:\n%s", data)
	}
}

func TestStatsTable(t *testing.T) {
	var b bytes.Buffer
	s := ComputeStats(parse(t, statsModule), 0)
	s.ParamsTotal = 671_026_419_712 // to see the separators and the rounding
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"671,026,419,712  (671 G)",
		"params activated / token",
		"flops / token",
		"578              (578 FLOP)",
		"weights bf16",
		"1,152            (1.15 KB)",
		"op grouped_linear",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestGrouped(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}
