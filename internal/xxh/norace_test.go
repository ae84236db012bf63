//go:build !race

package xxh

const raceEnabled = false
