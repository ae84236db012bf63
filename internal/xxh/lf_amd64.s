#include "textflag.h"

// The kernels of WriteLFUntilStop (see lf_amd64.go). Register use: the
// four lanes in R8-R11, prime1 in R12, prime2 in R13 (as in
// xxh_amd64.s); SI reads the text, CX is the last start of a block, DI
// is where the next block is stored in the stage and R14 the next stripe
// to hash there. The frame holds the stage's limit at 0(SP) (a block
// stored beyond it first moves the stage), the address of from at 8(SP),
// and scratch.

// LFLAG is how far behind the stores the stripe hashed lies: a lane
// loaded from bytes that are still in the store buffer, stored there by
// two overlapping stores, waits for them.
#define LFLAG 128

// lfStage's fields.
#define ST_W 0
#define ST_R 8
#define ST_MOVED 16
#define ST_BUF 24
#define ST_SIZE 512

#define LFLANE(off, V, T) \
	MOVQ  off(R14), T \
	IMULQ R13, T \
	ADDQ  T, V \
	ROLQ  $31, V \
	IMULQ R12, V

// LFHASH hashes the stripe at R14 and moves R14 past it.
#define LFHASH \
	LFLANE(0, R8, BX) \
	LFLANE(8, R9, DX) \
	LFLANE(16, R10, BX) \
	LFLANE(24, R11, DX) \
	ADDQ $32, R14

// LFENTER loads the lanes and the stage, and sets SI, CX (from the block
// size plus one, B1) and the frame.
#define LFENTER(B1) \
	MOVQ v+0(FP), AX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11 \
	MOVQ $11400714785074694791, R12 \
	MOVQ $14029467366897019727, R13 \
	MOVQ st+8(FP), BX \
	LEAQ ST_BUF(BX), AX \
	MOVQ ST_W(BX), DI \
	ADDQ AX, DI \
	MOVQ ST_R(BX), R14 \
	ADDQ AX, R14 \
	LEAQ (ST_SIZE-32)(AX), DX \
	MOVQ DX, 0(SP) \
	MOVQ src+16(FP), SI \
	MOVQ n+24(FP), CX \
	LEAQ -B1(SI)(CX*1), CX \
	MOVQ from+32(FP), DX \
	ADDQ SI, DX \
	MOVQ DX, 8(SP)

// LFLEAVE stores the lanes, the stage's offsets and how far SI read
// (the whole stripes in the stage hashed first, by the caller's loop).
#define LFLEAVE \
	MOVQ v+0(FP), AX \
	MOVQ R8, 0(AX) \
	MOVQ R9, 8(AX) \
	MOVQ R10, 16(AX) \
	MOVQ R11, 24(AX) \
	MOVQ st+8(FP), BX \
	LEAQ ST_BUF(BX), AX \
	SUBQ AX, DI \
	MOVQ DI, ST_W(BX) \
	SUBQ AX, R14 \
	MOVQ R14, ST_R(BX) \
	SUBQ src+16(FP), SI \
	MOVQ SI, read+40(FP)

// LFMOVE moves the stage's bytes from R14 to DI to its front, 32 bytes
// at a time (MOV the move of a vector register, T and U the registers:
// VMOVDQU in the AVX2 kernel, whose upper halves are dirty), and counts
// the bytes moved off.
#define LFMOVE(MOV, T, U) \
	MOVQ    st+8(FP), BX \
	LEAQ    ST_BUF(BX), AX \
	MOVQ    R14, DX \
	SUBQ    AX, DX \
	ADDQ    DX, ST_MOVED(BX) \
	SUBQ    DX, DI \
	MOV     (R14), T \
	MOV     16(R14), U \
	MOV     T, (AX) \
	MOV     U, 16(AX) \
	ADDQ    $32, R14 \
	ADDQ    $32, AX \
	MOVQ    R14, BX \
	SUBQ    DX, BX \
	CMPQ    BX, DI \
	JLT     -9(PC) \
	MOVQ    st+8(FP), BX \
	LEAQ    ST_BUF(BX), R14

// Masks for a blend: 0x00 32 times, then 0xff 32 times. Loaded from
// lfBlend+32-i (16 or 32 bytes), a mask selects the second
// input at the positions i and on.
DATA lfBlend<>+0(SB)/8, $0
DATA lfBlend<>+8(SB)/8, $0
DATA lfBlend<>+16(SB)/8, $0
DATA lfBlend<>+24(SB)/8, $0
DATA lfBlend<>+32(SB)/8, $-1
DATA lfBlend<>+40(SB)/8, $-1
DATA lfBlend<>+48(SB)/8, $-1
DATA lfBlend<>+56(SB)/8, $-1
GLOBL lfBlend<>(SB), RODATA|NOPTR, $64

DATA lfCR<>+0(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lfCR<>+8(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lfCR<>+16(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lfCR<>+24(SB)/8, $0x0d0d0d0d0d0d0d0d
GLOBL lfCR<>(SB), RODATA|NOPTR, $32
DATA lfLF<>+0(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lfLF<>+8(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lfLF<>+16(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lfLF<>+24(SB)/8, $0x0a0a0a0a0a0a0a0a
GLOBL lfLF<>(SB), RODATA|NOPTR, $32
DATA lfGT<>+0(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lfGT<>+8(SB)/8, $0x3e3e3e3e3e3e3e3e
GLOBL lfGT<>(SB), RODATA|NOPTR, $16
DATA lfF<>+0(SB)/8, $0x4646464646464646
DATA lfF<>+8(SB)/8, $0x4646464646464646
DATA lfF<>+16(SB)/8, $0x4646464646464646
DATA lfF<>+24(SB)/8, $0x4646464646464646
GLOBL lfF<>(SB), RODATA|NOPTR, $32

// func lfBlocksSSE2(v *[4]uint64, st *lfStage, src *byte, n, from int) (read int, stop bool)
// A block is 16 bytes. With no stop and at most one CRLF in it, it is
// stored as the blend of itself and the 16 bytes after its first byte,
// the second from the CR on, and the stage grows by 16 less one if there
// was a CR: no branch on whether a line ends there. A block with two
// CRLFs stores up to its first CR and goes on after it; a block with a
// stop, up to the stop, and returns.
TEXT ·lfBlocksSSE2(SB), NOSPLIT, $24-49
	LFENTER(17)
	PXOR  X0, X0
	MOVOU lfCR<>(SB), X1
	MOVOU lfLF<>(SB), X2
	MOVOU lfGT<>(SB), X3
	MOVOU lfF<>(SB), X4

sfast:
	CMPQ SI, CX
	JHI  sdone
	CMPQ DI, 0(SP)
	JHI  smove

sblock:
	PREFETCHT0 4096(SI)
	MOVOU      (SI), X5
	MOVOU      1(SI), X6
	// The stops: NUL, or LF or '>' before 'F'.
	MOVO       X5, X7
	PCMPEQB    X2, X7
	MOVO       X5, X8
	PCMPEQB    X3, X8
	POR        X8, X7
	MOVO       X6, X9
	PCMPEQB    X4, X9
	PAND       X9, X7
	MOVO       X5, X8
	PCMPEQB    X0, X8
	POR        X8, X7
	PMOVMSKB   X7, AX
	// The CRs before a LF.
	MOVO       X5, X8
	PCMPEQB    X1, X8
	MOVO       X6, X9
	PCMPEQB    X2, X9
	PAND       X9, X8
	PMOVMSKB   X8, DX
	TESTL      AX, AX
	JNZ        sevent

scompact:
	// Store the block less its first CR; DX holds its CRs.
	MOVL  DX, BX
	ORL   $0x10000, BX
	BSFL  BX, BX              // the first CR, or 16
	LEAQ  lfBlend<>+32(SB), AX
	SUBQ  BX, AX
	MOVOU (AX), X10
	MOVO  X10, X11
	PAND  X6, X11
	PANDN X5, X10
	POR   X11, X10
	MOVOU X10, (DI)
	LEAL  -1(DX), AX
	TESTL DX, AX
	JNZ   sslow
	CMPQ  BX, $16
	SBBQ  $-16, DI            // 16, or 15 past a CR
	ADDQ  $16, SI

sready:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $(32+LFLAG)
	JLT  sfast
	LFHASH
	JMP  sfast

sslow:
	// Two CRLFs or more: up to the first CR.
	ADDQ BX, DI
	LEAQ 1(SI)(BX*1), SI
	JMP  sready

sevent:
	// Stops before from are none.
	MOVQ 8(SP), BX
	SUBQ SI, BX
	JLE  sstop
	CMPQ BX, $16
	JGE  scompact
	MOVQ CX, 16(SP)
	MOVQ BX, CX
	SHRL CX, AX
	SHLL CX, AX
	MOVQ 16(SP), CX
	TESTL AX, AX
	JZ   scompact

sstop:
	// Up to the stop at L: only the CRs before it.
	BSFL AX, AX
	MOVQ CX, 16(SP)
	MOVQ AX, CX
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	ANDL BX, DX
	MOVQ 16(SP), CX
	MOVL DX, BX
	ORL  $0x10000, BX
	BSFL BX, BX
	MOVQ AX, 16(SP)
	LEAQ lfBlend<>+32(SB), AX
	SUBQ BX, AX
	MOVOU (AX), X10
	MOVO  X10, X11
	PAND  X6, X11
	PANDN X5, X10
	POR   X11, X10
	MOVOU X10, (DI)
	LEAL  -1(DX), AX
	TESTL DX, AX
	JNZ   sslow
	MOVQ  16(SP), AX
	ADDQ  AX, SI
	ADDQ  AX, DI
	CMPQ  BX, $16
	SBBQ  $0, DI
	MOVB  $1, stop+48(FP)
	JMP   sleave

smove:
	LFMOVE(MOVOU, X14, X13)
	JMP sblock

sdone:
	MOVB $0, stop+48(FP)

sleave:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $32
	JLT  sret
	LFHASH
	JMP  sleave

sret:
	LFLEAVE
	RET

// The stops for VPSHUFB by the low nibble, as in xxh_amd64.s but without
// CR: lfStopByte holds 0x00, 0x0a and 0x3e at their low nibbles (0x80
// elsewhere), lfAlone 0xff at NUL's.
DATA lfStopByte<>+0(SB)/8, $0x8080808080808000
DATA lfStopByte<>+8(SB)/8, $0x803e8080800a8080
DATA lfStopByte<>+16(SB)/8, $0x8080808080808000
DATA lfStopByte<>+24(SB)/8, $0x803e8080800a8080
GLOBL lfStopByte<>(SB), RODATA|NOPTR, $32
DATA lfAlone<>+0(SB)/8, $0x00000000000000ff
DATA lfAlone<>+8(SB)/8, $0
DATA lfAlone<>+16(SB)/8, $0x00000000000000ff
DATA lfAlone<>+24(SB)/8, $0
GLOBL lfAlone<>(SB), RODATA|NOPTR, $32

// LFCOMPACT2 stores the 32-byte block (Y5, and Y8 and Y11 the 32 bytes
// after its first and second byte) less the CRs in DX, if at most two:
// the block blended with Y8 from the first CR on (c1 in BX, or 32) and
// with Y11 from the byte before the second on (c2-1 in AX, or 32). CX is
// left holding the CRs after the second, if any (DX is scratch).
#define LFCOMPACT2 \
	MOVL      DX, BX \
	BTSQ      $32, BX \
	BSFQ      BX, BX \
	LEAL      -1(DX), CX \
	ANDL      DX, CX \
	MOVL      CX, AX \
	BTSQ      $33, AX \
	BSFQ      AX, AX \
	DECQ      AX \
	LEAQ      lfBlend<>+32(SB), DX \
	SUBQ      BX, DX \
	VMOVDQU   (DX), Y6 \
	VPBLENDVB Y6, Y8, Y5, Y7 \
	LEAQ      lfBlend<>+32(SB), DX \
	SUBQ      AX, DX \
	VMOVDQU   (DX), Y6 \
	VPBLENDVB Y6, Y11, Y7, Y7 \
	VMOVDQU   Y7, (DI) \
	LEAL      -1(CX), DX \
	ANDL      DX, CX

// func lfBlocksAVX2(v *[4]uint64, st *lfStage, src *byte, n, from int) (read int, stop bool)
// lfBlocksSSE2 with 32-byte blocks (VPBLENDVB blends) that leave out up
// to two CRs without a branch: short and empty lines put two CRLFs in a
// block often. The last start of a block is at 16(SP), so that CX is
// free.
TEXT ·lfBlocksAVX2(SB), NOSPLIT, $32-49
	LFENTER(34)
	MOVQ    CX, 16(SP)
	VMOVDQU lfStopByte<>(SB), Y1
	VMOVDQU lfAlone<>(SB), Y2
	VMOVDQU lfF<>(SB), Y3
	VMOVDQU lfCR<>(SB), Y4
	VMOVDQU lfLF<>(SB), Y10

vfast:
	CMPQ SI, 16(SP)
	JHI  vdone
	CMPQ DI, 0(SP)
	JHI  vmove

vblock:
	PREFETCHT0 4096(SI)
	VMOVDQU    (SI), Y5
	VMOVDQU    1(SI), Y8
	VMOVDQU    2(SI), Y11
	VPSHUFB    Y5, Y1, Y6
	VPCMPEQB   Y6, Y5, Y6
	VPSHUFB    Y5, Y2, Y7
	VPCMPEQB   Y8, Y3, Y9
	VPOR       Y7, Y9, Y9
	VPAND      Y6, Y9, Y9
	VPMOVMSKB  Y9, AX
	VPCMPEQB   Y5, Y4, Y6
	VPCMPEQB   Y8, Y10, Y7
	VPAND      Y6, Y7, Y6
	VPMOVMSKB  Y6, DX
	TESTL      AX, AX
	JNZ        vevent

vcompact:
	LFCOMPACT2
	JNZ  vslow
	CMPQ BX, $32
	SBBQ $-32, DI // 32, less one for a first CR
	CMPQ AX, $32
	SBBQ $0, DI   // and one for a second
	ADDQ $32, SI

vready:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $(32+LFLAG)
	JLT  vfast
	LFHASH
	JMP  vfast

vslow:
	// Three CRLFs or more: up to the second CR.
	ADDQ AX, DI
	LEAQ 2(SI)(AX*1), SI
	JMP  vready

vevent:
	MOVQ 8(SP), CX
	SUBQ SI, CX
	JLE  vstop
	CMPQ CX, $32
	JGE  vcompact
	SHRL CX, AX
	SHLL CX, AX
	TESTL AX, AX
	JZ   vcompact

vstop:
	// Up to the stop at L: only the CRs before it.
	BSFL AX, CX
	MOVQ CX, 24(SP)
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	ANDQ BX, DX
	LFCOMPACT2
	JNZ  vslow
	ADDQ 24(SP), SI
	ADDQ 24(SP), DI
	CMPQ BX, $32
	SBBQ $0, DI
	CMPQ AX, $32
	SBBQ $0, DI
	MOVB $1, stop+48(FP)
	JMP  vleave

vmove:
	LFMOVE(VMOVDQU, X14, X13)
	JMP vblock

vdone:
	MOVB $0, stop+48(FP)

vleave:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $32
	JLT  vret
	LFHASH
	JMP  vleave

vret:
	VZEROUPPER
	LFLEAVE
	RET

// 64 bytes of each for the AVX-512 kernel.
DATA lf64LF<>+0(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+8(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+16(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+24(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+32(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+40(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+48(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA lf64LF<>+56(SB)/8, $0x0a0a0a0a0a0a0a0a
GLOBL lf64LF<>(SB), RODATA|NOPTR, $64
DATA lf64CR<>+0(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+8(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+16(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+24(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+32(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+40(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+48(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA lf64CR<>+56(SB)/8, $0x0d0d0d0d0d0d0d0d
GLOBL lf64CR<>(SB), RODATA|NOPTR, $64
DATA lf64GT<>+0(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+8(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+16(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+24(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+32(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+40(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+48(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA lf64GT<>+56(SB)/8, $0x3e3e3e3e3e3e3e3e
GLOBL lf64GT<>(SB), RODATA|NOPTR, $64
DATA lf64F<>+0(SB)/8, $0x4646464646464646
DATA lf64F<>+8(SB)/8, $0x4646464646464646
DATA lf64F<>+16(SB)/8, $0x4646464646464646
DATA lf64F<>+24(SB)/8, $0x4646464646464646
DATA lf64F<>+32(SB)/8, $0x4646464646464646
DATA lf64F<>+40(SB)/8, $0x4646464646464646
DATA lf64F<>+48(SB)/8, $0x4646464646464646
DATA lf64F<>+56(SB)/8, $0x4646464646464646
GLOBL lf64F<>(SB), RODATA|NOPTR, $64

// func lfBlocksAVX512(v *[4]uint64, st *lfStage, src *byte, n, from int) (read int, stop bool)
// lfBlocksSSE2 with 64-byte blocks and VPCOMPRESSB (AVX512-VBMI2), which
// leaves out any number of CRs without a branch: a block with no stop
// costs about as much as its two stripes' hash. Masks: K1 'F' next, K3
// the stops, K5 the CRs, K6 the bytes kept (no CR before a LF).
TEXT ·lfBlocksAVX512(SB), NOSPLIT, $32-49
	LFENTER(65)
	MOVQ      CX, 16(SP)
	SUBQ      $32, 0(SP)   // stores of 64 bytes
	VMOVDQU64 lf64LF<>(SB), Z2
	VMOVDQU64 lf64GT<>(SB), Z3
	VMOVDQU64 lf64F<>(SB), Z4
	VMOVDQU64 lf64CR<>(SB), Z10

zfast:
	CMPQ SI, 16(SP)
	JHI  zdone
	CMPQ DI, 0(SP)
	JHI  zmove

zblock:
	PREFETCHT0 4096(SI)
	VMOVDQU64  (SI), Z5
	VMOVDQU64  1(SI), Z8
	VPCMPEQB   Z4, Z8, K1
	VPCMPEQB   Z2, Z5, K1, K2
	VPCMPEQB   Z3, Z5, K1, K3
	VPTESTNMB  Z5, Z5, K4
	KORQ       K2, K3, K3
	KORQ       K4, K3, K3
	VPCMPEQB   Z10, Z5, K5
	VPCMPEQB   Z2, Z8, K5, K5
	KNOTQ      K5, K6
	KORTESTQ   K3, K3
	JNZ        zevent

zcompact:
	VPCOMPRESSB.Z Z5, K6, Z7
	VMOVDQU64     Z7, (DI)
	KMOVQ         K6, AX
	POPCNTQ       AX, AX
	ADDQ          AX, DI
	ADDQ          $64, SI

zready:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $(32+LFLAG)
	JLT  zfast
	LFHASH
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $(32+LFLAG)
	JLT  zfast
	LFHASH
	JMP  zfast

zevent:
	KMOVQ K3, AX
	MOVQ  8(SP), CX
	SUBQ  SI, CX
	JLE   zstop
	CMPQ  CX, $64
	JGE   zcompact
	SHRQ  CX, AX
	SHLQ  CX, AX
	TESTQ AX, AX
	JZ    zcompact

zstop:
	// Up to the stop at L: only the bytes before it.
	BSFQ          AX, CX
	MOVQ          $1, BX
	SHLQ          CX, BX
	DECQ          BX
	KMOVQ         K6, AX
	ANDQ          BX, AX
	KMOVQ         AX, K6
	VPCOMPRESSB.Z Z5, K6, Z7
	VMOVDQU64     Z7, (DI)
	POPCNTQ       AX, AX
	ADDQ          AX, DI
	ADDQ          CX, SI
	MOVB          $1, stop+48(FP)
	JMP           zleave

zmove:
	LFMOVE(VMOVDQU, X14, X13)
	JMP zblock

zdone:
	MOVB $0, stop+48(FP)

zleave:
	MOVQ DI, BX
	SUBQ R14, BX
	CMPQ BX, $32
	JLT  zret
	LFHASH
	JMP  zleave

zret:
	VZEROUPPER
	LFLEAVE
	RET
