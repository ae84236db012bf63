//go:build race

package xxh

const raceEnabled = true
