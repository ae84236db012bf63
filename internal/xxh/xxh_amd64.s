#include "textflag.h"

// Register use in both kernels: the four lanes of the sum live in
// R8-R11 for the whole loop, prime1 in R12 and prime2 in R13; DI walks
// the stripes, SI is the end of the last one.

// LANE hashes the 8 bytes at off(DI) into lane V (T is scratch): the
// xxh64 round, acc += lane*prime2; acc = rotl(acc, 31); acc *= prime1.
#define LANE(off, V, T) \
	MOVQ  off(DI), T \
	IMULQ R13, T \
	ADDQ  T, V \
	ROLQ  $31, V \
	IMULQ R12, V

// HASH hashes the stripe at off(DI).
#define HASH(off) \
	LANE(off, R8, BX) \
	LANE(off+8, R9, DX) \
	LANE(off+16, R10, BX) \
	LANE(off+24, R11, DX)

#define LOADLANES \
	MOVQ v+0(FP), AX \
	MOVQ 0(AX), R8 \
	MOVQ 8(AX), R9 \
	MOVQ 16(AX), R10 \
	MOVQ 24(AX), R11 \
	MOVQ $11400714785074694791, R12 \
	MOVQ $14029467366897019727, R13

#define STORELANES \
	MOVQ v+0(FP), AX \
	MOVQ R8, 0(AX) \
	MOVQ R9, 8(AX) \
	MOVQ R10, 16(AX) \
	MOVQ R11, 24(AX)

// The bytes the SSE2 search compares with, 16 of each (allF has 32: the
// AVX2 search uses it too). Loaded whole from memory, which costs less
// than broadcasting them.
DATA allCR<>+0(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA allCR<>+8(SB)/8, $0x0d0d0d0d0d0d0d0d
GLOBL allCR<>(SB), RODATA|NOPTR, $16
DATA allLF<>+0(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA allLF<>+8(SB)/8, $0x0a0a0a0a0a0a0a0a
GLOBL allLF<>(SB), RODATA|NOPTR, $16
DATA allGT<>+0(SB)/8, $0x3e3e3e3e3e3e3e3e
DATA allGT<>+8(SB)/8, $0x3e3e3e3e3e3e3e3e
GLOBL allGT<>(SB), RODATA|NOPTR, $16
DATA allF<>+0(SB)/8, $0x4646464646464646
DATA allF<>+8(SB)/8, $0x4646464646464646
DATA allF<>+16(SB)/8, $0x4646464646464646
DATA allF<>+24(SB)/8, $0x4646464646464646
GLOBL allF<>(SB), RODATA|NOPTR, $32

// SSE2CONSTS sets X0-X4 for STOPS16.
#define SSE2CONSTS \
	PXOR  X0, X0 \
	MOVOU allCR<>(SB), X1 \
	MOVOU allLF<>(SB), X2 \
	MOVOU allGT<>(SB), X3 \
	MOVOU allF<>(SB), X4

// STOPS16 sets M to the stops among the 16 positions at off(DI), reading
// one byte past them: NUL (X0), CR (X1), or LF (X2) or '>' (X3) followed
// by 'F' (X4). N, T and U are scratch.
#define STOPS16(off, M, N, T, U) \
	MOVOU   off(DI), M \
	MOVOU   off+1(DI), N \
	PCMPEQB X4, N \
	MOVO    M, T \
	PCMPEQB X2, T \
	MOVO    M, U \
	PCMPEQB X3, U \
	POR     U, T \
	PAND    N, T \
	MOVO    M, U \
	PCMPEQB X1, U \
	PCMPEQB X0, M \
	POR     U, M \
	POR     T, M

// STOPS sets AX to the stops of the stripe at off(DI), one bit a
// position (BX is scratch). The masks are joined in scalar registers:
// the vector ports are the ones the hash's IMULs compete for.
#define STOPS(off) \
	STOPS16(off, X5, X6, X7, X8) \
	STOPS16(off+16, X9, X10, X11, X12) \
	PMOVMSKB X5, AX \
	PMOVMSKB X9, BX \
	SHLL     $16, BX \
	ORL      BX, AX

// func stripesUntilStop(v *[4]uint64, p *byte, n int, keep uint32) int
// See xxh_amd64.go. Per stripe: the stops first, and when there are none
// the four lanes; the out-of-order core overlaps one stripe's IMULs with
// the next one's compares (the branch between them is not taken until
// the stop). Two stripes a round while they last (one prefetch for the
// 64 bytes), then one.
TEXT ·stripesUntilStop(SB), NOSPLIT, $0-40
	LOADLANES
	SSE2CONSTS
	MOVQ p+8(FP), DI
	MOVQ n+16(FP), SI
	SHLQ $5, SI
	ADDQ DI, SI      // end of the stripes
	LEAQ -32(SI), CX // last start of a double round

	// The first stripe alone: only its positions in keep are searched.
	STOPS(0)
	ANDL keep+24(FP), AX
	JNZ  found0
	HASH(0)
	ADDQ $32, DI

double:
	CMPQ DI, CX
	JAE  single
	// The hardware prefetcher stops at page ends: ask for the line a
	// page ahead (a prefetch never faults, past the end included), as
	// bytesearch's pair search does (memory-bound: 7 -> 11.5 GB/s).
	PREFETCHT0 4096(DI)
	STOPS(0)
	TESTL AX, AX
	JNZ   found0
	HASH(0)
	STOPS(32)
	TESTL AX, AX
	JNZ   found32
	HASH(32)
	ADDQ  $64, DI
	JMP   double

single:
	CMPQ  DI, SI
	JAE   notfound
	STOPS(0)
	TESTL AX, AX
	JNZ   found0
	HASH(0)
	ADDQ  $32, DI
	JMP   single

found32:
	ADDQ $32, DI

found0:
	BSFL AX, AX
	SUBQ p+8(FP), DI
	ADDQ AX, DI
	MOVQ DI, ret+32(FP)
	STORELANES
	RET

notfound:
	MOVQ $-1, ret+32(FP)
	STORELANES
	RET

// The AVX2 kernel finds the stops of a stripe with two table lookups
// (VPSHUFB by the low nibble) where SSE2 needs five compares a half: the
// four stop bytes 0x00, 0x0D ('\r'), 0x0A ('\n') and 0x3E ('>') have
// four different low nibbles. stopByte maps a low nibble to the stop
// byte that has it, and the others to 0x80 (a byte whose low nibble is
// 0, so no byte but 0 matches there): a byte is one of the four when it
// equals its lookup (a byte with the top bit set looks up 0, and is not
// 0). alone maps the low nibbles of NUL and CR to 0xff: those stop
// without an 'F' after them.
DATA stopByte<>+0(SB)/8, $0x8080808080808000
DATA stopByte<>+8(SB)/8, $0x803e0d80800a8080
DATA stopByte<>+16(SB)/8, $0x8080808080808000
DATA stopByte<>+24(SB)/8, $0x803e0d80800a8080
GLOBL stopByte<>(SB), RODATA|NOPTR, $32
DATA alone<>+0(SB)/8, $0x00000000000000ff
DATA alone<>+8(SB)/8, $0x0000ff0000000000
DATA alone<>+16(SB)/8, $0x00000000000000ff
DATA alone<>+24(SB)/8, $0x0000ff0000000000
GLOBL alone<>(SB), RODATA|NOPTR, $32

// STOPS32 sets AX to the stops of the stripe at off(DI), one bit a
// position (Y1 stopByte, Y2 alone, Y3 'F'; Y5-Y7 scratch).
#define STOPS32(off) \
	VMOVDQU   off(DI), Y5 \
	VPSHUFB   Y5, Y1, Y6 \
	VPCMPEQB  Y6, Y5, Y6 \
	VPSHUFB   Y5, Y2, Y7 \
	VPCMPEQB  off+1(DI), Y3, Y5 \
	VPOR      Y7, Y5, Y5 \
	VPAND     Y6, Y5, Y5 \
	VPMOVMSKB Y5, AX

// func stripesUntilStopAVX2(v *[4]uint64, p *byte, n int, keep uint32) int
// stripesUntilStop with AVX2, the same loop.
TEXT ·stripesUntilStopAVX2(SB), NOSPLIT, $0-40
	LOADLANES
	// The constants are loaded whole: broadcasting them (VBROADCASTI128,
	// VPBROADCASTD) cost about 100 ns a call on the machine measured (a
	// VM), which made the kernel slower than SSE2's on 2 KB runs.
	VMOVDQU        stopByte<>(SB), Y1
	VMOVDQU        alone<>(SB), Y2
	VMOVDQU        allF<>(SB), Y3
	MOVQ           p+8(FP), DI
	MOVQ           n+16(FP), SI
	SHLQ           $5, SI
	ADDQ           DI, SI
	LEAQ           -32(SI), CX

	STOPS32(0)
	ANDL keep+24(FP), AX
	JNZ  vfound0
	HASH(0)
	ADDQ $32, DI

vdouble:
	CMPQ       DI, CX
	JAE        vsingle
	PREFETCHT0 4096(DI)
	STOPS32(0)
	TESTL      AX, AX
	JNZ        vfound0
	HASH(0)
	STOPS32(32)
	TESTL      AX, AX
	JNZ        vfound32
	HASH(32)
	ADDQ       $64, DI
	JMP        vdouble

vsingle:
	CMPQ  DI, SI
	JAE   vnotfound
	STOPS32(0)
	TESTL AX, AX
	JNZ   vfound0
	HASH(0)
	ADDQ  $32, DI
	JMP   vsingle

vfound32:
	ADDQ $32, DI

vfound0:
	VZEROUPPER
	BSFL AX, AX
	SUBQ p+8(FP), DI
	ADDQ AX, DI
	MOVQ DI, ret+32(FP)
	STORELANES
	RET

vnotfound:
	VZEROUPPER
	MOVQ $-1, ret+32(FP)
	STORELANES
	RET

// func stopMask(p *byte) uint32
// The stops among the 32 positions at p, one bit a position, reading
// bytes [0, 32]: for the ends of texts, copied with padding.
TEXT ·stopMask(SB), NOSPLIT, $0-12
	SSE2CONSTS
	MOVQ p+0(FP), DI
	STOPS(0)
	MOVL AX, ret+8(FP)
	RET
