//go:build !amd64

package xxh

func stripes(v *[4]uint64, b []byte) int { return stripesGo(v, b) }

func (d *Digest) writeUntilStop(b []byte, from int) (int, int) { return d.writeUntilStopGo(b, from) }
