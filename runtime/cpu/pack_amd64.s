#include "textflag.h"

// func transpose4F32(n int, dst *float32, w int, r0, r1, r2, r3 *float32)
// dst[k*w + c] = rc[k] for c < 4, k < n (n a multiple of 4): four rows
// into four columns of a k-major strip w wide, one 4x4 block at a time
// (AVX encodings of the SSE unpack and move-half shuffles).
TEXT ·transpose4F32(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ w+16(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), BX
	MOVQ r0+24(FP), R8
	MOVQ r1+32(FP), R9
	MOVQ r2+40(FP), R10
	MOVQ r3+48(FP), R11
	XORQ AX, AX
tloop:
	CMPQ AX, CX
	JGE tdone
	VMOVUPS (R8)(AX*4), X0
	VMOVUPS (R9)(AX*4), X1
	VMOVUPS (R10)(AX*4), X2
	VMOVUPS (R11)(AX*4), X3
	VUNPCKLPS X1, X0, X4 // a0 b0 a1 b1
	VUNPCKHPS X1, X0, X5 // a2 b2 a3 b3
	VUNPCKLPS X3, X2, X6 // c0 d0 c1 d1
	VUNPCKHPS X3, X2, X7 // c2 d2 c3 d3
	VMOVLHPS X6, X4, X0  // a0 b0 c0 d0
	VMOVHLPS X4, X6, X1  // a1 b1 c1 d1
	VMOVLHPS X7, X5, X2  // a2 b2 c2 d2
	VMOVHLPS X5, X7, X3  // a3 b3 c3 d3
	VMOVUPS X0, (DI)
	VMOVUPS X1, (DI)(DX*1)
	VMOVUPS X2, (DI)(DX*2)
	VMOVUPS X3, (DI)(BX*1)
	LEAQ (DI)(DX*4), DI
	ADDQ $4, AX
	JMP tloop
tdone:
	RET
