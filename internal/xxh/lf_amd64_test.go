package xxh

import "golang.org/x/sys/cpu"

// lfKernels are the WriteLFUntilStop kernels this machine can run, the
// one it picks first.
func lfKernels() []string {
	var k []string
	if lfKernel == lfAVX512 {
		k = append(k, "avx512")
	}
	if cpu.X86.HasAVX2 {
		k = append(k, "avx2")
	}
	return append(k, "sse2")
}

// useLFKernel makes WriteLFUntilStop use the kernel named, until restore.
func useLFKernel(name string) (restore func()) {
	old := lfKernel
	lfKernel = map[string]int{"sse2": lfSSE2, "avx2": lfAVX2, "avx512": lfAVX512}[name]
	return func() { lfKernel = old }
}
