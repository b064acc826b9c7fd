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

// func copyStripF32(kcb int, dst *float32, w int, src *float32, ld int)
// dst[k*w + c] = src[k*ld + c] for k < kcb, c < w (w a multiple of 4):
// w-wide pieces of kcb rows into one k-major strip.
TEXT ·copyStripF32(SB), NOSPLIT, $0-40
	MOVQ kcb+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ w+16(FP), R8
	MOVQ src+24(FP), SI
	MOVQ ld+32(FP), R10
	SHLQ $2, R10
	TESTQ CX, CX
	JE cdone
ckloop:
	MOVQ R8, R9
	MOVQ SI, R11
c8:
	CMPQ R9, $8
	JL c4
	VMOVUPS (R11), Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, R11
	ADDQ $32, DI
	SUBQ $8, R9
	JMP c8
c4:
	TESTQ R9, R9
	JE cnext
	VMOVUPS (R11), X0
	VMOVUPS X0, (DI)
	ADDQ $16, DI
cnext:
	ADDQ R10, SI
	DECQ CX
	JNE ckloop
cdone:
	VZEROUPPER
	RET
