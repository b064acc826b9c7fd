#include "textflag.h"

// Elementwise + - * / over f32 slices, eight lanes at a time (AVX): each
// lane is the same IEEE single-precision operation the Go loop performs,
// so results are bit-identical. n is a multiple of 8.

// ARITH8(name, INSTR): dst[i] = x[i] INSTR y[i].
#define ARITH8(name, INSTR) \
TEXT name(SB), NOSPLIT, $0-32 \
	MOVQ dst+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ y+16(FP), DX \
	MOVQ n+24(FP), CX \
	XORQ AX, AX \
loop: \
	CMPQ AX, CX \
	JGE done \
	VMOVUPS (SI)(AX*4), Y0 \
	VMOVUPS (DX)(AX*4), Y1 \
	INSTR Y1, Y0, Y0 \
	VMOVUPS Y0, (DI)(AX*4) \
	ADDQ $8, AX \
	JMP loop \
done: \
	VZEROUPPER \
	RET

// ARITH8S(name, INSTR): dst[i] = x[i] INSTR v (v a scalar).
#define ARITH8S(name, INSTR) \
TEXT name(SB), NOSPLIT, $0-32 \
	MOVQ dst+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ v+16(FP), DX \
	MOVQ n+24(FP), CX \
	VBROADCASTSS (DX), Y1 \
	XORQ AX, AX \
loop: \
	CMPQ AX, CX \
	JGE done \
	VMOVUPS (SI)(AX*4), Y0 \
	INSTR Y1, Y0, Y0 \
	VMOVUPS Y0, (DI)(AX*4) \
	ADDQ $8, AX \
	JMP loop \
done: \
	VZEROUPPER \
	RET

ARITH8(·add8F32, VADDPS)
ARITH8(·sub8F32, VSUBPS)
ARITH8(·mul8F32, VMULPS)
ARITH8(·div8F32, VDIVPS)
ARITH8S(·add8sF32, VADDPS)
ARITH8S(·sub8sF32, VSUBPS)
ARITH8S(·mul8sF32, VMULPS)
ARITH8S(·div8sF32, VDIVPS)

// adamw8F32(p, gr, m, v, np, nm, nv *float32, n int, c *[10]float32):
// AdamW eight lanes at a time, the Go loop's operations in its order
// (no fused multiply-add; VSQRTPS is the correctly rounded f32 square
// root, which is what float32(math.Sqrt(float64(x))) gives). c holds
// gs, b1, c1, b2, c2, ibc2, eps, ibc1, decay, lr.
TEXT ·adamw8F32(SB), NOSPLIT, $0-72
	MOVQ p+0(FP), R8
	MOVQ gr+8(FP), R9
	MOVQ m+16(FP), R10
	MOVQ v+24(FP), R11
	MOVQ np+32(FP), R12
	MOVQ nm+40(FP), R13
	MOVQ nv+48(FP), BX
	MOVQ n+56(FP), CX
	MOVQ c+64(FP), DX
	VBROADCASTSS 0(DX), Y6   // gs
	VBROADCASTSS 4(DX), Y7   // b1
	VBROADCASTSS 8(DX), Y8   // c1
	VBROADCASTSS 12(DX), Y9  // b2
	VBROADCASTSS 16(DX), Y10 // c2
	VBROADCASTSS 20(DX), Y11 // ibc2
	VBROADCASTSS 24(DX), Y12 // eps
	VBROADCASTSS 28(DX), Y13 // ibc1
	VBROADCASTSS 32(DX), Y14 // decay
	VBROADCASTSS 36(DX), Y15 // lr
	XORQ AX, AX
aloop:
	CMPQ AX, CX
	JGE adone
	VMOVUPS (R9)(AX*4), Y0
	VMULPS Y6, Y0, Y0        // gi = g·gs
	VMOVUPS (R10)(AX*4), Y1
	VMULPS Y1, Y7, Y1        // b1·m
	VMULPS Y0, Y8, Y2        // c1·gi
	VADDPS Y2, Y1, Y1        // mi
	VMOVUPS (R11)(AX*4), Y2
	VMULPS Y2, Y9, Y2        // b2·v
	VMULPS Y0, Y10, Y3       // c2·gi
	VMULPS Y0, Y3, Y3        // ·gi
	VADDPS Y3, Y2, Y2        // vi
	VMULPS Y11, Y2, Y3       // vi·ibc2
	VSQRTPS Y3, Y3
	VADDPS Y12, Y3, Y3       // den
	VMULPS Y13, Y1, Y4       // mi·ibc1
	VDIVPS Y3, Y4, Y4        // /den
	VMOVUPS (R8)(AX*4), Y5
	VMULPS Y5, Y14, Y3       // decay·p
	VADDPS Y3, Y4, Y4
	VMULPS Y4, Y15, Y4       // lr·(...)
	VSUBPS Y4, Y5, Y5        // p - lr·(...)
	VMOVUPS Y5, (R12)(AX*4)
	VMOVUPS Y1, (R13)(AX*4)
	VMOVUPS Y2, (BX)(AX*4)
	ADDQ $8, AX
	JMP aloop
adone:
	VZEROUPPER
	RET

// roundBF16x8(p *float32, n int): p[i] rounded to bfloat16 in place,
// eight lanes at a time (AVX2), runtime.RoundBF16's rule: add 0x7fff plus
// the kept part's lowest bit to the bits and clear the low 16 (round to
// nearest even; overflow gives inf), NaNs left as they are. n is a
// multiple of 8.
DATA bf16c<>+0(SB)/4, $0x00000001
DATA bf16c<>+4(SB)/4, $0x00007fff
DATA bf16c<>+8(SB)/4, $0xffff0000
GLOBL bf16c<>(SB), RODATA|NOPTR, $12
TEXT ·roundBF16x8(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPBROADCASTD bf16c<>+0(SB), Y13
	VPBROADCASTD bf16c<>+4(SB), Y14
	VPBROADCASTD bf16c<>+8(SB), Y15
	XORQ AX, AX
rloop:
	CMPQ AX, CX
	JGE rdone
	VMOVDQU (SI)(AX*4), Y0
	VPSRLD $16, Y0, Y1
	VPAND Y13, Y1, Y1
	VPADDD Y14, Y1, Y1
	VPADDD Y0, Y1, Y1
	VPAND Y15, Y1, Y1
	VCMPPS $3, Y0, Y0, Y2 // unordered: NaN lanes
	VBLENDVPS Y2, Y0, Y1, Y1
	VMOVDQU Y1, (SI)(AX*4)
	ADDQ $8, AX
	JMP rloop
rdone:
	VZEROUPPER
	RET
