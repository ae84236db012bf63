//go:build !amd64

package xxh

func (d *Digest) writeLFUntilStop(b []byte, from int) (int, int) {
	return d.writeLFUntilStopGo(b, from)
}
