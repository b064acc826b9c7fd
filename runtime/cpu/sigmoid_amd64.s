#include "textflag.h"

// Sigmoid and SiLU over f32 slices, four lanes at a time in f64 (AVX2+FMA),
// as sigmoidFast computes them: z = exp(-min(|x|, 700)), numerator 1 for
// x >= 0 and z for x < 0, divided by 1 + z. exp(u) for u in [-700, 0]:
// u = k·ln2 + r, |r| <= ln2/2, 2^k added to the exponent bits of p(r), p
// the degree-11 Taylor polynomial (relative truncation error < 1e-14).
// Lanes with |x| > 700 or NaN are recomputed by the Go wrapper.

#define C4(name, v) DATA name<>+0(SB)/8, $v; DATA name<>+8(SB)/8, $v; DATA name<>+16(SB)/8, $v; DATA name<>+24(SB)/8, $v; GLOBL name<>(SB), RODATA|NOPTR, $32

C4(absmask, 0x7fffffffffffffff)
C4(maxarg, 700.0)
C4(invln2, 1.4426950408889634)
C4(ln2hi, 6.93147180369123816490e-01)
C4(ln2lo, 1.90821492927058770002e-10)
C4(one, 1.0)
C4(c2, 0.5)
C4(c3, 0.16666666666666666)
C4(c4, 0.041666666666666664)
C4(c5, 0.008333333333333333)
C4(c6, 0.001388888888888889)
C4(c7, 0.0001984126984126984)
C4(c8, 2.48015873015873e-05)
C4(c9, 2.7557319223985893e-06)
C4(c10, 2.755731922398589e-07)
C4(c11, 2.505210838544172e-08)

// SIGMOID4 leaves sigmoid(x) of the four lanes of Y0 in Y1 (Y2-Y5 scratch).
#define SIGMOID4 \
	VANDPD absmask<>(SB), Y0, Y1 \
	VMINPD maxarg<>(SB), Y1, Y1 \
	VXORPD Y2, Y2, Y2 \
	VSUBPD Y1, Y2, Y1 \                 // u = -min(|x|, 700)
	VMULPD invln2<>(SB), Y1, Y2 \
	VROUNDPD $0, Y2, Y2 \               // k = round(u/ln2)
	VFNMADD231PD ln2hi<>(SB), Y2, Y1 \  // r = u - k·ln2hi
	VFNMADD231PD ln2lo<>(SB), Y2, Y1 \  //       - k·ln2lo
	VMOVUPD c11<>(SB), Y3 \
	VFMADD213PD c10<>(SB), Y1, Y3 \
	VFMADD213PD c9<>(SB), Y1, Y3 \
	VFMADD213PD c8<>(SB), Y1, Y3 \
	VFMADD213PD c7<>(SB), Y1, Y3 \
	VFMADD213PD c6<>(SB), Y1, Y3 \
	VFMADD213PD c5<>(SB), Y1, Y3 \
	VFMADD213PD c4<>(SB), Y1, Y3 \
	VFMADD213PD c3<>(SB), Y1, Y3 \
	VFMADD213PD c2<>(SB), Y1, Y3 \
	VFMADD213PD one<>(SB), Y1, Y3 \
	VFMADD213PD one<>(SB), Y1, Y3 \     // p(r)
	VCVTPD2DQY Y2, X4 \
	VPMOVSXDQ X4, Y4 \
	VPSLLQ $52, Y4, Y4 \
	VPADDQ Y4, Y3, Y3 \                 // z = p·2^k
	VMOVUPD one<>(SB), Y5 \
	VBLENDVPD Y0, Y3, Y5, Y1 \          // x < 0 ? z : 1
	VADDPD Y5, Y3, Y3 \
	VDIVPD Y3, Y1, Y1

// func sigmoid4F32(dst, src *float32, n int)
// dst[i] = sigmoid(src[i]) for i < n, n a multiple of 4.
TEXT ·sigmoid4F32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $2, CX
	JZ   sdone
sloop:
	VCVTPS2PD (SI), Y0
	SIGMOID4
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  sloop
sdone:
	VZEROUPPER
	RET

// func silu4F32(dst, src *float32, n int)
// dst[i] = src[i]·sigmoid(src[i]) for i < n, n a multiple of 4.
TEXT ·silu4F32(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $2, CX
	JZ   udone
uloop:
	VCVTPS2PD (SI), Y0
	SIGMOID4
	VMULPD Y0, Y1, Y1
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  uloop
udone:
	VZEROUPPER
	RET
