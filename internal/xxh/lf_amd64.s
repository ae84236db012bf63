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
// at a time (MOV the move of a vector register, T and U the registers),
// and counts the bytes moved off.
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
// A block is 64 bytes (and the byte after them, for the pairs). With no
// stop in it, VPCOMPRESSB (AVX512-VBMI2) stores its bytes less the CR of
// each CRLF in the stage, any number of CRs without a branch, and the
// stage's whole stripes a lag behind are hashed: a block costs about as
// much as its two stripes' hash. A block with a stop stores its bytes
// before the stop and returns. Masks: K1 'F' next, K3 the stops, K5 the
// CRs, K6 the bytes kept (no CR before a LF).
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
