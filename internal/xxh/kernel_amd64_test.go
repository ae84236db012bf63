package xxh

import "golang.org/x/sys/cpu"

// kernels are the assembly kernels this machine can run, the one
// WriteUntilStop picks first.
func kernels() []string {
	if cpu.X86.HasAVX2 {
		return []string{"avx2", "sse2"}
	}
	return []string{"sse2"}
}

// useKernel makes WriteUntilStop use the kernel named, until restore.
func useKernel(name string) (restore func()) {
	old := useAVX2
	useAVX2 = name == "avx2"
	return func() { useAVX2 = old }
}
