#include "textflag.h"

// BCAST broadcasts the byte argument at off(FP) to every byte of R.
#define BCAST(off, R) \
	MOVBLZX off(FP), AX \
	MOVD      AX, R \
	PUNPCKLBW R, R \
	PUNPCKLBW R, R \
	PSHUFL    $0, R, R

// BLOCK sets M to the stops among the 16 positions at off(DI): bytes
// equal to X0 or X1, and bytes equal to X8 followed by one equal to X9.
// T1 and T2 are scratch.
#define BLOCK(off, M, T1, T2) \
	MOVOU   off(DI), M \
	MOVOU   off+1(DI), T1 \
	MOVO    M, T2 \
	PCMPEQB X8, T2 \
	PCMPEQB X9, T1 \
	PAND    T1, T2 \
	MOVO    M, T1 \
	PCMPEQB X0, M \
	PCMPEQB X1, T1 \
	POR     T1, M \
	POR     T2, M

// CHEAP sets M to the bytes among the 16 at off(DI) that equal X0, X1 or
// X8: the stops, and any c0 whether or not c1 follows (a superset).
// T1 and T2 are scratch.
#define CHEAP(off, M, T1, T2) \
	MOVOU   off(DI), M \
	MOVO    M, T1 \
	MOVO    M, T2 \
	PCMPEQB X0, M \
	PCMPEQB X1, T1 \
	PCMPEQB X8, T2 \
	POR     T1, M \
	POR     T2, M

// ROUND64 sets X2-X5 to the stops among the 64 positions at DI, and DX
// to a mask that is not zero when there is one (flags set by TESTL).
#define ROUND64 \
	BLOCK(0, X2, X10, X11) \
	BLOCK(16, X3, X12, X13) \
	BLOCK(32, X4, X10, X11) \
	BLOCK(48, X5, X12, X13) \
	MOVO     X2, X6 \
	POR      X3, X6 \
	MOVO     X4, X7 \
	POR      X5, X7 \
	POR      X7, X6 \
	PMOVMSKB X6, DX \
	TESTL    DX, DX

// func stopBlocks(p *byte, blocks int, x, y, c0, c1 byte) int
// Four blocks (64 positions) per round while they last, then one. A
// round first looks for x, y and c0 alone (c0 is rare in most text, and
// that costs a third less); when it finds one, the round is done again
// exactly. After eight rounds where c0 came without c1 (HTML, quoted
// replies), the rest is done exactly at once.
TEXT ·stopBlocks(SB), NOSPLIT, $0-32
	MOVQ    p+0(FP), SI
	MOVQ    blocks+8(FP), BX
	BCAST(x+16, X0)
	BCAST(y+17, X1)
	BCAST(c0+18, X8)
	BCAST(c1+19, X9)
	MOVQ SI, DI
	SHLQ $4, BX
	ADDQ SI, BX      // end of the positions
	LEAQ -48(BX), R9 // last start of a round of four
	MOVQ $8, R10     // rounds of c0 without c1 before exact rounds only

quad:
	CMPQ     DI, R9
	JAE      single
	CHEAP(0, X2, X10, X11)
	CHEAP(16, X3, X12, X13)
	CHEAP(32, X4, X10, X11)
	CHEAP(48, X5, X12, X13)
	POR      X3, X2
	POR      X5, X4
	POR      X4, X2
	PMOVMSKB X2, DX
	TESTL    DX, DX
	JNZ      exact
	ADDQ     $64, DI
	JMP      quad

exact:
	ROUND64
	JNZ      quadfound
	ADDQ     $64, DI
	DECQ     R10
	JNZ      quad

exactquad:
	CMPQ     DI, R9
	JAE      single
	ROUND64
	JNZ      quadfound
	ADDQ     $64, DI
	JMP      exactquad

quadfound:
	PMOVMSKB X2, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, DI
	PMOVMSKB X3, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, DI
	PMOVMSKB X4, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, DI
	PMOVMSKB X5, DX
	JMP      found

single:
	CMPQ     DI, BX
	JAE      notfound
	BLOCK(0, X2, X10, X11)
	PMOVMSKB X2, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, DI
	JMP      single

found:
	BSFL DX, DX
	SUBQ SI, DI
	ADDQ DX, DI
	MOVQ DI, ret+24(FP)
	RET

notfound:
	MOVQ $-1, ret+24(FP)
	RET
