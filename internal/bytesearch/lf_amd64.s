#include "textflag.h"

#define BCAST(R) \
	MOVD      AX, R \
	PUNPCKLBW R, R \
	PUNPCKLBW R, R \
	PSHUFL    $0, R, R

// CLASSIFY takes the 16 bytes at SI in X2 and the 16 from the second in
// X3, and leaves the CRLFs among them in X2, and the stops (x, or c0 or
// d0 followed by c1) in X4 and as a bit mask in CX. X5, X6 and X7 are
// scratch.
#define CLASSIFY \
	MOVO     X2, X4 \
	MOVO     X2, X5 \
	MOVO     X2, X7 \
	MOVO     X3, X6 \
	PCMPEQB  X0, X2 \
	PCMPEQB  X1, X3 \
	PAND     X3, X2 \
	PCMPEQB  X8, X4 \
	PCMPEQB  X9, X5 \
	PCMPEQB  X11, X7 \
	POR      X7, X5 \
	PCMPEQB  X10, X6 \
	PAND     X6, X5 \
	POR      X5, X4 \
	PMOVMSKB X4, CX

// func lfBlocks(dst, src *byte, n int, x, c0, d0, c1 byte) (nsrc, ndst int, stop bool)
// A fast step reads 16 bytes and writes them less the CR of the CRLF in
// them, if one: it stores the 16, then the 16 after that CR over them
// from the CR on, so that it moves on by 16 whatever it found (a branch
// per line end would be mispredicted on every line). A block with a stop
// or with two CRLFs takes slow steps instead: each stores 16 bytes and
// moves on past the first CR of a CRLF in them, or to the stop, and
// returns.
TEXT ·lfBlocks(SB), NOSPLIT, $0-49
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), BX

	// Broadcast CR, LF, x, c0, c1 and d0 to every byte of X0, X1, X8,
	// X9, X10 and X11.
	MOVL    $0x0d, AX
	BCAST(X0)
	MOVL    $0x0a, AX
	BCAST(X1)
	MOVBLZX x+24(FP), AX
	BCAST(X8)
	MOVBLZX c0+25(FP), AX
	BCAST(X9)
	MOVBLZX c1+27(FP), AX
	BCAST(X10)
	MOVBLZX d0+26(FP), AX
	BCAST(X11)

	MOVQ SI, R8
	MOVQ DI, R10
	LEAQ -16(SI)(BX*1), R9 // slow steps start below src+n-16
	LEAQ -32(SI)(BX*1), R11 // fast steps below src+n-32: they read 33 bytes

fast:
	CMPQ     SI, R11
	JAE      slow
	// Ask for the line a page ahead, as pairBlocks does: the hardware
	// prefetcher stops at page ends, and CRLF mail mapped from the page
	// cache is read here first.
	PREFETCHT0 4096(SI)
	MOVOU    (SI), X2
	MOVOU    1(SI), X3
	CLASSIFY
	PMOVMSKB X2, DX
	TESTL    CX, CX
	JNZ      slow
	LEAL     -1(DX), AX
	TESTL    DX, AX
	JNZ      slow    // two CRLFs
	MOVOU    (SI), X2
	MOVOU    X2, (DI)
	ORL      $0x10000, DX
	BSFL     DX, DX  // the CR, or 16
	MOVOU    1(SI)(DX*1), X3
	MOVOU    X3, (DI)(DX*1)
	ADDQ     $16, SI
	ADDQ     $16, DI
	CMPL     DX, $16
	SBBQ     $0, DI  // one byte less when there was a CR
	JMP      fast

slow:
	CMPQ     SI, R9
	JAE      done
	MOVOU    (SI), X2
	MOVOU    1(SI), X3
	MOVOU    X2, (DI)
	CLASSIFY
	POR      X4, X2
	PMOVMSKB X2, DX
	TESTL    DX, DX
	JNZ      event
	ADDQ     $16, SI
	ADDQ     $16, DI
	JMP      fast

event:
	BSFL DX, DX
	BTL  DX, CX
	JCS  stop // a stop first (or at a CR: stops win)
	ADDQ DX, DI
	LEAQ 1(SI)(DX*1), SI
	JMP  fast

stop:
	ADDQ DX, DI
	ADDQ DX, SI
	MOVB $1, stop+48(FP)
	JMP  ret

done:
	MOVB $0, stop+48(FP)

ret:
	SUBQ R8, SI
	MOVQ SI, nsrc+32(FP)
	SUBQ R10, DI
	MOVQ DI, ndst+40(FP)
	RET
