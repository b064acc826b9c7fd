package codegen

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/program"
	llir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// GEMM kernels on Hopper tensor cores (wgmma). One warpgroup (128 threads)
// computes a 64×128 tile of y = x·wᵀ with both operands K-major in shared
// memory, K stepped 128 bytes at a time: 64 bf16 (four m64n128k16) or 128
// e4m3 (four m64n128k32). Tiles use wgmma's unswizzled core-matrix layout
// (8 rows × 16 bytes per core matrix, K-adjacent ones 128 B apart, row
// groups 1 KiB apart).
//
// FP8 (a block-quantized weight): the kernel quantizes x per 1×128 tile as
// it stages it (scale = amax/448, x/scale to e4m3 with RNE and saturation,
// exactly the CPU's rule), each 128-wide K group accumulates into fresh
// registers, and the group's sum is promoted into the f32 total times the
// row's and the weight block's scales: docs/model.md §5 with DeepGEMM's tile
// shape (BN = 128 = the weight's scale block, so one weight scale per tile
// and group).
//
// The region's elementwise consumers run in the epilogue on each output
// element before it is stored. grouped_gemm tiles never straddle experts:
// moe-lower pads each expert's rows to the block (128, a multiple of BM).

const (
	gemmBM, gemmBN = 64, 128
	gemmThreads    = 128
	tileKBytes     = 128 // K bytes per staged tile
	kStepBytes     = 32  // K bytes per wgmma (k16 bf16, k32 e4m3)
)

// The unswizzled K-major layout: core matrices of coreRows rows ×
// coreBytes bytes stored contiguously; the descriptor's leading offset
// (LBO) steps to the next core matrix along K, its stride offset (SBO) to
// the next 8-row group.
const (
	coreRows, coreBytes = 8, 16
	coreSize            = coreRows * coreBytes
	tileLBO             = coreSize
	tileSBO             = tileKBytes / coreBytes * coreSize
)

// coreOffset is where the loader puts byte kb of row r of a tile.
func coreOffset(r, kb int64) int64 {
	return (r/coreRows*(tileKBytes/coreBytes)+kb/coreBytes)*coreSize + r%coreRows*coreBytes + kb%coreBytes
}

// descriptorAddress is the byte wgmma reads for row r, byte kb of the
// k-step whose descriptor starts at start (PTX ISA: K-major, no swizzle).
func descriptorAddress(start, r, kb int64) int64 {
	return start + r/coreRows*tileSBO + kb/coreBytes*tileLBO + r%coreRows*coreBytes + kb%coreBytes
}

// kStepStart is the descriptor start of k-step s within a tile.
func kStepStart(s int64) int64 { return s * kStepBytes / coreBytes * tileLBO }

// gemmShape describes the GEMM op of a region.
type gemmShape struct {
	op      *ir.Op
	x, w    *ir.Value
	count   *ir.Value // grouped_gemm's rows per expert, or nil
	block   int64     // grouped_gemm's segment block
	fp8     bool
	K, N    int64
	experts int64
	// kDim is K as a dim: symbolic for weight-gradient products over the
	// tokens (K = T), whose rows are then staged element by element (no
	// 16-byte alignment to rely on).
	kDim ir.Dim
	// colScales: the fp8 weight has one scale per row and 128 of K (the
	// [1, 128] blocks of a weight-gradient operand) instead of 128×128.
	colScales bool
	// matmul: a [..., M, K] · b [..., K, N] (b's batch dims, if any, are
	// a's): B is staged transposed into the K-major layout.
	matmul   bool
	bBatched bool
}

func gemmOf(k *kernelBuilder) (*gemmShape, error) {
	var g *gemmShape
	for _, op := range k.r.Ops {
		if passes.KernelKind(op) == "gemm" {
			if g != nil {
				return nil, fmt.Errorf("two GEMMs in one region")
			}
			g = &gemmShape{op: op, x: op.Args[0], w: op.Args[1]}
		}
	}
	if g == nil {
		return nil, fmt.Errorf("no GEMM in region")
	}
	switch g.op.Def() {
	case ir.OpLinear:
	case ir.OpMatmul:
		return matmulOf(k, g)
	case ir.OpGroupedGEMM:
		g.count = g.op.Args[2]
		g.block, _ = g.op.Attrs.Int("block")
		if g.block%gemmBM != 0 {
			return nil, unsupported("grouped_gemm block %d is not a multiple of the %d-row tile (compile with moe-block=128)", g.block, gemmBM)
		}
	default:
		return nil, unsupported("%s has no GEMM emitter yet", g.op.Name)
	}
	ws := g.w.Type.Shape
	g.kDim = ws[len(ws)-1]
	if ws[len(ws)-2].IsSym() {
		return nil, unsupported("weight with symbolic shape %s", g.w.Type)
	}
	g.K, g.N = ws[len(ws)-1].N, ws[len(ws)-2].N
	if len(ws) == 3 {
		g.experts = ws[0].N
	}
	switch {
	case g.x.Type.DType != ir.BF16:
		return nil, unsupported("activation dtype %s (the GPU path takes bf16)", g.x.Type.DType)
	case g.w.Type.DType == ir.BF16:
	case g.w.Type.DType == ir.F8E4M3 && slices.Equal(k.blocks[g.w], []int64{128, 128}):
		g.fp8 = true
	case g.w.Type.DType == ir.F8E4M3 && slices.Equal(k.blocks[g.w], []int64{1, 128}) && g.count == nil:
		g.fp8, g.colScales = true, true
	default:
		return nil, unsupported("weight dtype %s without a block scale", g.w.Type.DType)
	}
	if !g.kDim.IsSym() && g.K*2%16 != 0 {
		return nil, unsupported("K = %d is not a multiple of 8", g.K)
	}
	if g.fp8 && !g.kDim.IsSym() && g.K%16 != 0 {
		// A weight row's 16-byte chunks would start 8 bytes off alignment.
		return nil, unsupported("K = %d with an fp8 weight is not a multiple of 16", g.K)
	}
	return g, nil
}

// matmulOf checks a matmul for the tensor-core path: bf16 operands, static
// K and N (N a multiple of 8, for 16-byte loads of B's rows).
func matmulOf(k *kernelBuilder, g *gemmShape) (*gemmShape, error) {
	as, bs := g.x.Type.Shape, g.w.Type.Shape
	g.matmul = true
	if g.x.Type.DType != ir.BF16 || g.w.Type.DType != ir.BF16 || k.blocks[g.w] != nil {
		return nil, unsupported("matmul of %s by %s (the tensor-core path takes bf16 by bf16)", g.x.Type.DType, g.w.Type.DType)
	}
	kd, nd := as[len(as)-1], bs[len(bs)-1]
	if nd.IsSym() || bs[len(bs)-2] != kd {
		return nil, unsupported("matmul with symbolic N (%s, %s)", g.x.Type, g.w.Type)
	}
	g.kDim = kd
	if len(bs) > 2 {
		if !bs[:len(bs)-2].Equal(as[:len(as)-2]) {
			return nil, unsupported("matmul with broadcast batch dims (%s, %s)", g.x.Type, g.w.Type)
		}
		g.bBatched = true
	}
	g.K, g.N = kd.N, nd.N
	if (!kd.IsSym() && g.K%8 != 0) || g.N%8 != 0 {
		return nil, unsupported("matmul with K = %s, N = %d (multiples of 8 needed)", kd, g.N)
	}
	return g, nil
}

// smemOffset is coreOffset of (row, 16-byte K chunk) in LLVM IR.
func (k *kernelBuilder) smemOffset(row, chunk value.Value) value.Value {
	cm := k.add(k.mul(k.div(row, ci64(coreRows)), ci64(tileKBytes/coreBytes)), chunk)
	return k.add(k.mul(cm, ci64(coreSize)), k.mul(k.rem(row, ci64(coreRows)), ci64(coreBytes)))
}

// descriptor builds a wgmma shared-memory matrix descriptor (no swizzle):
// start address, LBO and SBO in 16-byte units.
func (k *kernelBuilder) descriptor(addr value.Value) value.Value {
	a := k.b.NewLShr(k.b.NewAnd(addr, ci64(0x3FFFF)), ci64(4))
	return k.b.NewOr(a, ci64((tileLBO>>4)<<16|(tileSBO>>4)<<32))
}

func emitGEMM(k *kernelBuilder, step *program.Step) error {
	g, err := gemmOf(k)
	if err != nil {
		var u unsupportedError
		if errors.As(err, &u) {
			return emitSIMTGEMM(k, step)
		}
		return err
	}
	k.mma = "bf16"
	if g.fp8 {
		k.mma = "e4m3"
	}
	gk := newGEMMKernel(k, g)
	final := gk.mainLoop()
	if err := gk.epilogue(final); err != nil {
		return err
	}
	k.ret()
	step.Launch = gk.launch()
	return nil
}

// gemmKernel is one tensor-core GEMM kernel while it is emitted: the
// values every phase reads (the block's tile origin, the operands' bases,
// the shared-memory layout), set up once in the kernel's entry block so
// that the phases only add their own instructions.
type gemmKernel struct {
	*kernelBuilder
	g *gemmShape
	// M is the rows of one product; a matmul's batch (grid z) offsets the
	// rows of x and of the result by batch·M (xRow0), and b by batch·K·N.
	M, K, N   value.Value
	batch     value.Value
	batchDims ir.Shape
	xRow0     value.Value
	aligned   bool  // K is static: rows are staged 16 bytes at a time
	kElems    int64 // K elements per staged tile
	// Shared memory: A tile, B tile, the A tile's row scales; base is its
	// address (for wgmma descriptors).
	aBytes, bBytes int64
	smem           *llir.Global
	base           value.Value
	tid, m0, n0    value.Value
	// grouped_gemm: the expert whose padded segment holds row m0, its
	// first row, and its row count.
	expert, segStart, segCount value.Value
	wBase                      value.Value // the B operand of this block (expert, batch)
	nAcc                       int         // f32 accumulators per thread
	accStruct                  types.Type
	wScaleCols                 value.Value // K groups of 128: columns of the weight's scale grid
}

// newGEMMKernel emits what every phase needs before the K loop: it must
// dominate the loop and the epilogue, so it is computed once, up front.
func newGEMMKernel(k *kernelBuilder, g *gemmShape) *gemmKernel {
	gk := &gemmKernel{kernelBuilder: k, g: g}
	out := g.op.Results[0]
	gk.M = k.numel(out.Type.Shape[:len(out.Type.Shape)-1])
	gk.batch = ci64(0)
	if g.matmul {
		as := g.x.Type.Shape
		gk.M = k.dim(as[len(as)-2])
		gk.batchDims = as[:len(as)-2]
		gk.batch = k.zext64(k.sreg("ctaid.z"))
	}
	gk.xRow0 = k.mul(gk.batch, gk.M)
	gk.K, gk.N = k.dim(g.kDim), ci64(g.N)
	gk.aligned = !g.kDim.IsSym()
	gk.kElems = tileKBytes
	if !g.fp8 {
		gk.kElems = tileKBytes / 2
	}
	gk.aBytes, gk.bBytes = gemmBM*tileKBytes, gemmBN*tileKBytes
	smem := k.m.NewGlobal("smem", types.NewArray(uint64(gk.aBytes+gk.bBytes+gemmBM*4), i8))
	smem.AddrSpace = shared
	smem.Typ = nil // recomputed with the address space
	smem.Init = constant.NewUndef(smem.ContentType)
	smem.Linkage = enum.LinkageInternal
	smem.Align = llir.Align(128)
	gk.smem = smem
	gk.base = k.b.NewPtrToInt(k.b.NewGetElementPtr(smem.ContentType, smem, ci64(0), ci64(0)), i64)

	gk.tid = k.zext64(k.sreg("tid.x"))
	gk.m0 = k.mul(k.zext64(k.sreg("ctaid.y")), ci64(gemmBM))
	gk.n0 = k.mul(k.zext64(k.sreg("ctaid.x")), ci64(gemmBN))
	if g.count != nil {
		gk.findExpert()
	}
	gk.wBase = k.ptrs[g.w]
	if g.bBatched {
		gk.wBase = k.at(gk.wBase, k.mul(gk.batch, k.mul(gk.K, gk.N)))
	}
	if g.count != nil {
		gk.wBase = k.at(gk.wBase, k.mul(gk.expertIndex(), ci64(g.N*g.K)))
	}
	gk.nAcc = gemmBN / 2 // for m64n128
	accT := make([]types.Type, gk.nAcc)
	for i := range accT {
		accT[i] = f32
	}
	gk.accStruct = types.NewStruct(accT...)
	gk.wScaleCols = k.div(k.add(gk.K, ci64(127)), ci64(128))
	return gk
}

// findExpert walks the experts' padded segments to the one that holds row
// m0: grouped_gemm tiles never straddle experts, so one lookup serves the
// whole block.
func (gk *gemmKernel) findExpert() {
	k, g := gk.kernelBuilder, gk.g
	res := k.loop(ci64(0), ci64(g.experts), ci64(1), []value.Value{ci64(0), ci64(-1), ci64(0), ci64(0)}, func(e value.Value, c []value.Value) []value.Value {
		cnt := k.sext64(k.load(k.at(k.ptrs[g.count], e)))
		padded := k.mul(k.div(k.add(cnt, ci64(g.block-1)), ci64(g.block)), ci64(g.block))
		end := k.add(c[0], padded)
		hit := k.b.NewAnd(k.ge(gk.m0, c[0]), k.lt(gk.m0, end))
		return []value.Value{end, k.sel(hit, e, c[1]), k.sel(hit, c[0], c[2]), k.sel(hit, cnt, c[3])}
	})
	gk.expert, gk.segStart, gk.segCount = res[1], res[2], res[3]
}

// expertIndex is the expert clamped to 0: a block past every segment
// (expert -1) still forms in-bounds addresses, and its rows are invalid.
func (gk *gemmKernel) expertIndex() value.Value {
	return gk.sel(gk.ge(gk.expert, ci64(0)), gk.expert, ci64(0))
}

// smemAt is a typed pointer to byte off of the kernel's shared memory.
func (gk *gemmKernel) smemAt(off value.Value, t types.Type) value.Value {
	p := gk.b.NewGetElementPtr(gk.smem.ContentType, gk.smem, ci64(0), off)
	return gk.b.NewBitCast(p, ptr(t, shared))
}

// rowScale points at the FP8 scale of row (of the tile), after the B tile.
func (gk *gemmKernel) rowScale(row value.Value) value.Value {
	return gk.smemAt(gk.add(ci64(gk.aBytes+gk.bBytes), gk.mul(row, ci64(4))), f32)
}

// rowValid reports whether absolute row row exists: below M and, for
// grouped_gemm, inside its expert's rows rather than the segment's padding.
func (gk *gemmKernel) rowValid(row value.Value) value.Value {
	ok := gk.lt(row, gk.M)
	if gk.g.count != nil {
		inSeg := gk.b.NewAnd(gk.ge(gk.expert, ci64(0)), gk.lt(gk.sub(row, gk.segStart), gk.segCount))
		ok = gk.b.NewAnd(ok, inSeg)
	}
	return ok
}

// mainLoop steps K a tile at a time: stage both operands, multiply them on
// the tensor cores and, for FP8, promote the group's sum. The carry is the
// accumulators (FP8: the total, then the group's partial sums, unused
// between tiles); it returns the final accumulators.
func (gk *gemmKernel) mainLoop() []value.Value {
	k, g := gk.kernelBuilder, gk.g
	zeros := make([]value.Value, gk.nAcc)
	for i := range zeros {
		zeros[i] = cf32(0)
	}
	nTiles := k.div(k.add(gk.K, ci64(gk.kElems-1)), ci64(gk.kElems))
	carry := zeros
	if g.fp8 {
		carry = append(append([]value.Value{}, zeros...), zeros...)
	}
	return k.loop(ci64(0), nTiles, ci64(1), carry, func(t value.Value, c []value.Value) []value.Value {
		gk.stage(k.mul(t, ci64(gk.kElems)))
		if !g.fp8 {
			return gk.multiply(c[:gk.nAcc])
		}
		// Each K group sums afresh: its first wgmma overwrites the
		// accumulators (scale-d = 0) rather than reading zeros, which
		// would be register writes between wgmma.fence and the wgmma
		// (undefined behaviour by the PTX ISA).
		return gk.promote(t, c, gk.multiply(nil))
	})
}

// stage copies the A and B tiles of K offset k0 into shared memory, where
// wgmma reads them: the barriers keep the copy from overwriting a tile the
// previous wgmma still reads, and the wgmma from reading before the copy is
// done; the proxy fence makes generic-proxy stores visible to wgmma's async
// proxy.
func (gk *gemmKernel) stage(k0 value.Value) {
	k, g := gk.kernelBuilder, gk.g
	k.barrier() // the previous tile's wgmma reads are done
	if g.fp8 {
		k.stageQuantizedA(g, gk.tid, gk.m0, k0, gk.K, gk.M, gk.smemAt, gk.rowScale, gk.rowValid)
	} else {
		for c := int64(0); c < gemmBM*8/gemmThreads; c++ {
			ch := k.add(k.mul(ci64(c), ci64(gemmThreads)), gk.tid)
			row, chunk := k.div(ch, ci64(8)), k.rem(ch, ci64(8))
			gk.copyChunk(k.ptrs[g.x], 2, k.add(gk.xRow0, gk.m0), row, chunk, k0, ci64(0), gk.rowValid(k.add(gk.m0, row)))
		}
	}
	es := int64(2)
	if g.fp8 {
		es = 1
	}
	if g.matmul {
		k.stageTransposedB(gk.wBase, k0, gk.n0, gk.K, gk.N, gk.smemAt, gk.aBytes, gk.tid)
	} else {
		for c := int64(0); c < gemmBN*8/gemmThreads; c++ {
			ch := k.add(k.mul(ci64(c), ci64(gemmThreads)), gk.tid)
			row, chunk := k.div(ch, ci64(8)), k.rem(ch, ci64(8))
			gk.copyChunk(gk.wBase, es, gk.n0, row, chunk, k0, ci64(gk.aBytes), k.lt(k.add(gk.n0, row), gk.N))
		}
	}
	k.asm(types.Void, "fence.proxy.async.shared::cta;", "~{memory}")
	k.barrier()
}

// copyChunk stages one 16-byte chunk of a K-major operand (element size
// es) into smem, zero outside the matrix: wgmma reads whole tiles, so the
// edges must hold zeros rather than whatever a previous tile left.
func (gk *gemmKernel) copyChunk(src value.Value, es int64, rowBase, row, chunk, k0, smemBase value.Value, valid value.Value) {
	k, K := gk.kernelBuilder, gk.K
	v4 := types.NewVector(4, i32)
	kcol := k.add(k0, k.mul(chunk, ci64(16/es)))
	ok := k.b.NewAnd(valid, k.lt(kcol, K))
	dst := gk.smemAt(k.add(smemBase, k.smemOffset(row, chunk)), v4)
	if !gk.aligned { // element by element, each checked against K
		et := src.Type().(*types.PointerType).ElemType
		vn := types.NewVector(uint64(16/es), et)
		var vec value.Value = zeroVector(vn)
		for i := int64(0); i < 16/es; i++ {
			kc := k.add(kcol, ci64(i))
			in := k.b.NewAnd(valid, k.lt(kc, K))
			at := k.sel(in, k.add(k.mul(k.add(rowBase, row), K), kc), ci64(0))
			vec = k.b.NewInsertElement(vec, k.sel(in, k.load(k.at(src, at)), cint(et, 0)), ci32(i))
		}
		st := k.b.NewStore(k.b.NewBitCast(vec, v4), dst)
		st.Align = 16
		return
	}
	okB, zeroB, done := k.block("ld"), k.block("zero"), k.block("st")
	k.b.NewCondBr(ok, okB, zeroB)
	k.b = okB
	p := k.b.NewBitCast(k.at(src, k.add(k.mul(k.add(rowBase, row), K), kcol)), ptr(v4, global))
	ld := k.b.NewLoad(v4, p)
	ld.Align = 16
	st := k.b.NewStore(ld, dst)
	st.Align = 16
	k.b.NewBr(done)
	k.b = zeroB
	st = k.b.NewStore(zeroVector(v4), dst)
	st.Align = 16
	k.b.NewBr(done)
	k.b = done
}

// multiply issues the staged tile's wgmmas, one per K step, into acc (nil:
// start from zero) and waits for them: wgmma is asynchronous, and its
// accumulator registers may be read only after the wait. The fence orders
// earlier register writes before the first wgmma.
func (gk *gemmKernel) multiply(acc []value.Value) []value.Value {
	k := gk.kernelBuilder
	k.asm(types.Void, "wgmma.fence.sync.aligned;", "~{memory}")
	for s := int64(0); s < tileKBytes/kStepBytes; s++ {
		da := k.descriptor(k.add(gk.base, ci64(kStepStart(s))))
		db := k.descriptor(k.add(gk.base, ci64(gk.aBytes+kStepStart(s))))
		acc = k.wgmma(gk.accStruct, gk.g.fp8, da, db, acc)
	}
	k.asm(types.Void, "wgmma.commit_group.sync.aligned;", "~{memory}")
	k.asm(types.Void, "wgmma.wait_group.sync.aligned 0;", "~{memory}")
	return acc
}

// promote adds K group t's partial sums acc into the f32 total c[:nAcc]
// with both scales: acc + float32(p · float32(sx · sw)), each step rounded:
// .rn instructions, which ptxas never contracts into an FMA, so the
// promotion rounds as the CPU's recipe does. Hopper's FP8 accumulation
// keeps ~14 bits, so sums leave the tensor core every 128 of K, which is
// also where the scales change (docs/model.md §5).
func (gk *gemmKernel) promote(t value.Value, c, acc []value.Value) []value.Value {
	k, g, nAcc := gk.kernelBuilder, gk.g, gk.nAcc
	sp := k.scales[g.w]
	if g.count != nil {
		sp = k.at(sp, k.mul(gk.expertIndex(), k.mul(ci64((g.N+127)/128), gk.wScaleCols)))
	}
	lane := k.rem(gk.tid, ci64(32))
	r0 := k.add(k.mul(k.div(gk.tid, ci64(32)), ci64(16)), k.div(lane, ci64(4)))
	sx0, sx1 := k.load(gk.rowScale(r0)), k.load(gk.rowScale(k.add(r0, ci64(8))))
	// sw is the weight's scale for output column n of this K group:
	// one per 128 columns (128×128 blocks) or one per column ([1, 128]).
	colScale := map[int64]value.Value{}
	sw := func(col int64) value.Value {
		key := col
		if !g.colScales {
			key = 0
		}
		if v, ok := colScale[key]; ok {
			return v
		}
		var row value.Value = k.div(gk.n0, ci64(128))
		if g.colScales {
			n := k.add(k.add(gk.n0, k.mul(k.rem(lane, ci64(4)), ci64(2))), ci64(col))
			row = k.sel(k.lt(n, gk.N), n, ci64(0))
		}
		v := k.load(k.at(sp, k.add(k.mul(row, gk.wScaleCols), t)))
		colScale[key] = v
		return v
	}
	next := make([]value.Value, 2*nAcc)
	for i := 0; i < nAcc; i++ {
		sx := sx0
		if i%4 >= 2 {
			sx = sx1
		}
		s := k.mulRN(sx, sw(int64(8*(i/4)+i%2)))
		next[i] = k.addRN(c[i], k.mulRN(acc[i], s))
		next[nAcc+i] = c[nAcc+i]
	}
	return next
}

// epilogue stores the accumulators, each through the region's elementwise
// consumers: fusing them here saves a round trip of the product through
// global memory. Accumulator i of a thread is row r0 (+8 for i%4 >= 2),
// column c0 + 8·(i/4) + i%2: wgmma's m64nNk fragment layout.
func (gk *gemmKernel) epilogue(final []value.Value) error {
	k, g := gk.kernelBuilder, gk.g
	lane := k.rem(gk.tid, ci64(32))
	r0 := k.add(k.add(gk.m0, k.mul(k.div(gk.tid, ci64(32)), ci64(16))), k.div(lane, ci64(4)))
	c0 := k.add(gk.n0, k.mul(k.rem(lane, ci64(4)), ci64(2)))
	outShape := k.r.Outputs[0].Type.Shape
	for i := 0; i < gk.nAcc; i++ {
		j := int64(i / 4)
		row := r0
		if i%4 >= 2 {
			row = k.add(r0, ci64(8))
		}
		col := k.add(c0, ci64(8*j+int64(i%2)))
		ok := k.b.NewAnd(k.lt(row, gk.M), k.lt(col, gk.N))
		acc := final[i]
		var err error
		k.ifThen(ok, func() {
			y := acc
			if g.count != nil {
				y = k.sel(gk.rowValid(row), y, cf32(0))
			}
			err = k.storeThroughEpilogue(g.op, k.add(k.mul(k.add(gk.xRow0, row), gk.N), col), outShape, y)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// launch is the grid: one block per 64×128 output tile, grid z over a
// matmul's batch.
func (gk *gemmKernel) launch() program.Launch {
	g := gk.g
	out := g.op.Results[0]
	rows := gridOf(gemmBM, out.Type.Shape[:len(out.Type.Shape)-1]...)
	if g.matmul {
		rows = gridOf(gemmBM, g.x.Type.Shape[len(g.x.Type.Shape)-2])
	}
	return program.Launch{Threads: gemmThreads, Grid: [3]program.GridDim{{Elems: []string{fmt.Sprint(g.N)}, Div: gemmBN}, rows, gridOf(1, gk.batchDims...)}}
}

// stageTransposedB stages a matmul's B tile (b[k][n], N-major) into the
// K-major layout: each thread loads 8 consecutive n of one k row (16
// bytes) and stores them as 8 bf16 elements of 8 rows of the tile.
func (k *kernelBuilder) stageTransposedB(b, k0, n0, K, N value.Value, smemAt func(value.Value, types.Type) value.Value, bOff int64, tid value.Value) {
	const kRows = tileKBytes / 2 // bf16 K elements per tile
	v8 := types.NewVector(8, i16)
	for c := int64(0); c < kRows*gemmBN/8/gemmThreads; c++ {
		ch := k.add(k.mul(ci64(c), ci64(gemmThreads)), tid)
		kk, nc := k.div(ch, ci64(gemmBN/8)), k.rem(ch, ci64(gemmBN/8))
		kAbs, nAbs := k.add(k0, kk), k.add(n0, k.mul(nc, ci64(8)))
		ok := k.b.NewAnd(k.lt(kAbs, K), k.lt(nAbs, N))
		at := k.sel(ok, k.add(k.mul(kAbs, N), nAbs), ci64(0))
		ld := k.b.NewLoad(v8, k.b.NewBitCast(k.at(b, at), ptr(v8, global)))
		ld.Align = 16
		vals := k.sel(ok, ld, zeroVector(v8))
		kb := k.mul(kk, ci64(2)) // byte of K within the row
		for i := int64(0); i < 8; i++ {
			row := k.add(k.mul(nc, ci64(8)), ci64(i))
			off := k.add(k.smemOffset(row, k.div(kb, ci64(coreBytes))), k.rem(kb, ci64(coreBytes)))
			k.store(k.b.NewExtractElement(vals, ci32(i)), smemAt(k.add(ci64(bOff), off), i16))
		}
	}
}

// stageQuantizedA loads the 64×128 bf16 A tile, quantizes each row (one
// 1×128 tile) to e4m3 with scale amax/448 and writes the bytes in the
// core-matrix layout, the row scales after the B tile. Two threads share a
// row, 64 elements each.
func (k *kernelBuilder) stageQuantizedA(g *gemmShape, tid, m0, k0, K, M value.Value, smemAt func(value.Value, types.Type) value.Value, rowScale func(value.Value) value.Value, rowValid func(value.Value) value.Value) {
	row := k.div(tid, ci64(2))
	half := k.rem(tid, ci64(2))
	grow := k.add(m0, row)
	valid := rowValid(grow)
	xs := make([]value.Value, 64)
	var amax value.Value = cf32(0)
	for e := int64(0); e < 64; e++ {
		kcol := k.add(k0, k.add(k.mul(half, ci64(64)), ci64(e)))
		ok := k.b.NewAnd(valid, k.lt(kcol, K))
		idx := k.sel(ok, k.add(k.mul(grow, K), kcol), ci64(0))
		x := k.loadElem(k.ptrs[g.x], idx, ir.BF16)
		xs[e] = k.sel(ok, x, cf32(0))
		amax = k.call("llvm.maxnum.f32", f32, amax, k.call("llvm.fabs.f32", f32, xs[e]))
	}
	other := k.call("llvm.nvvm.shfl.sync.bfly.f32", f32, ci32(-1), amax, ci32(1), ci32(31))
	amax = k.call("llvm.maxnum.f32", f32, amax, other)
	scale := k.b.NewFDiv(amax, cf32(448))
	isZero := k.b.NewFCmp(enum.FPredOEQ, scale, cf32(0))
	for c := int64(0); c < 4; c++ { // four 16-byte chunks of this half row
		var word [4]value.Value
		for w := int64(0); w < 4; w++ {
			var packed value.Value = ci32(0)
			for b := int64(0); b < 4; b++ {
				x := xs[c*16+w*4+b]
				q := k.sel(isZero, cf32(0), k.b.NewFDiv(x, scale))
				byt := k.b.NewZExt(k.toMem(q, ir.F8E4M3), i32)
				packed = k.b.NewOr(packed, k.b.NewShl(byt, ci32(8*b)))
			}
			word[w] = packed
		}
		var vec value.Value = zeroVector(types.NewVector(4, i32))
		for w := int64(0); w < 4; w++ {
			vec = k.b.NewInsertElement(vec, word[w], ci32(w))
		}
		chunk := k.add(k.mul(half, ci64(4)), ci64(c))
		st := k.b.NewStore(vec, smemAt(k.smemOffset(row, chunk), types.NewVector(4, i32)))
		st.Align = 16
	}
	k.ifThen(k.b.NewICmp(enum.IPredEQ, half, ci64(0)), func() {
		k.store(scale, rowScale(row))
	})
}

// wgmma issues one m64n128 warpgroup MMA accumulating into acc (tied
// registers), or, when acc is nil, overwriting the accumulators
// (scale-d = 0): k16 for bf16, k32 for e4m3.
func (k *kernelBuilder) wgmma(accStruct types.Type, fp8 bool, da, db value.Value, acc []value.Value) []value.Value {
	n := len(accStruct.(*types.StructType).Fields)
	var outs, ties []string
	for i := 0; i < n; i++ {
		outs = append(outs, fmt.Sprintf("$%d", i))
		ties = append(ties, fmt.Sprint(i))
	}
	instr := "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%s}, $%d, $%d, %d, 1, 1, 0, 0;"
	if fp8 {
		instr = "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {%s}, $%d, $%d, %d, 1, 1;"
	}
	scaleD := 1
	cons := strings.Repeat("=f,", n) + "l,l," + strings.Join(ties, ",")
	if acc == nil {
		scaleD = 0
		cons = strings.Repeat("=f,", n) + "l,l"
	}
	text := fmt.Sprintf(instr, strings.Join(outs, ","), n, n+1, scaleD)
	args := append([]value.Value{da, db}, acc...)
	r := k.asm(accStruct, text, cons, args...)
	res := make([]value.Value, n)
	for i := range res {
		res[i] = k.b.NewExtractValue(r, uint64(i))
	}
	return res
}

func (k *kernelBuilder) mulRN(a, b value.Value) value.Value {
	return k.asm(f32, "mul.rn.f32 $0, $1, $2;", "=f,f,f", a, b)
}

func (k *kernelBuilder) addRN(a, b value.Value) value.Value {
	return k.asm(f32, "add.rn.f32 $0, $1, $2;", "=f,f,f", a, b)
}
