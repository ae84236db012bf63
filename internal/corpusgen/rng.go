package corpusgen

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Random streams. Every decision about message i is drawn from a stream
// seeded by (Options.Seed, i, kind), so any message can be generated on its
// own, in any order, and always comes out the same.
const (
	streamPlan    = 1 // which copies exist, sizes, kinds, timeline
	streamContent = 2 // header and body text of a content root
	streamTrace   = 3 // the delivery trace added by the receiving server
	streamCopies  = 4 // client style, line ends, flags of each local copy
	streamGlobal  = 5 // per-corpus choices: mailbox owner, bursts
)

// splitmix64 is a bijective 64-bit mixer (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rng is a PCG stream with the few helpers the generator needs. It is a value
// type so that hot paths reseed it instead of allocating.
type rng struct {
	pcg rand.PCG
}

func (r *rng) seed(seed int64, i int, kind uint64) {
	hi := splitmix64(uint64(seed) ^ kind*0x632be59bd9b4e019)
	lo := splitmix64(uint64(i) ^ splitmix64(kind+uint64(seed)))
	r.pcg.Seed(hi, lo)
}

func (r *rng) u64() uint64 { return r.pcg.Uint64() }

// intn returns a uniform int in [0, n); n must be > 0 (Lemire's method,
// without the rejection step: the bias is below 2^-32 for our n).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// between returns a uniform int in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.pcg.Uint64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// norm returns a standard normal deviate (Box-Muller).
func (r *rng) norm() float64 {
	u1 := r.float()
	for u1 == 0 {
		u1 = r.float()
	}
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// pick returns a random element of s.
func pick[T any](r *rng, s []T) T { return s[r.intn(len(s))] }
