#include "textflag.h"

// BCASTC broadcasts the constant byte c to every byte of R.
#define BCASTC(c, R) \
	MOVL      c, AX \
	MOVD      AX, R \
	PUNPCKLBW R, R \
	PUNPCKLBW R, R \
	PSHUFL    $0, R, R

// UNFOLDED sets M to the positions among the 16 at off(DI) that hold an
// LF followed by neither SP nor HTAB. T is scratch.
#define UNFOLDED(off, M, T) \
	MOVOU   off+1(DI), T \
	MOVOU   off(DI), M \
	MOVO    T, X4 \
	PCMPEQB X1, T \
	PCMPEQB X2, X4 \
	POR     X4, T \
	PCMPEQB X0, M \
	PANDN   M, T \
	MOVO    T, M

// func unfoldedBlocks(p *byte, blocks int) int
// Two blocks (32 positions) per round while they last, then one.
TEXT ·unfoldedBlocks(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ blocks+8(FP), BX
	BCASTC($0x0a, X0)
	BCASTC($0x20, X1)
	BCASTC($0x09, X2)

	MOVQ SI, DI
	SHLQ $4, BX
	ADDQ SI, BX      // end of the positions
	LEAQ -16(BX), R9 // last start of a double round

double:
	CMPQ     DI, R9
	JAE      single
	UNFOLDED(0, X5, X6)
	UNFOLDED(16, X7, X8)
	MOVO     X5, X9
	POR      X7, X9
	PMOVMSKB X9, DX
	TESTL    DX, DX
	JNZ      doublefound
	ADDQ     $32, DI
	JMP      double

doublefound:
	PMOVMSKB X5, DX
	TESTL    DX, DX
	JNZ      found
	PMOVMSKB X7, DX
	ADDQ     $16, DI
	JMP      found

single:
	CMPQ     DI, BX
	JAE      notfound
	UNFOLDED(0, X5, X6)
	PMOVMSKB X5, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, DI
	JMP      single

found:
	BSFL DX, DX
	SUBQ SI, DI
	ADDQ DX, DI
	MOVQ DI, ret+16(FP)
	RET

notfound:
	MOVQ $-1, ret+16(FP)
	RET
