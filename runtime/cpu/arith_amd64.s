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
