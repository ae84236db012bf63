package xxh

// lfKernels are the ways WriteLFUntilStop can run on this machine, the
// one it picks first: the AVX-512 kernel where there is one, and the Go
// definition.
func lfKernels() []string {
	if haveLFKernel {
		return []string{"avx512", "go"}
	}
	return []string{"go"}
}

// useLFKernel makes WriteLFUntilStop run the way named, until restore.
func useLFKernel(name string) (restore func()) {
	old := haveLFKernel
	haveLFKernel = name == "avx512"
	return func() { haveLFKernel = old }
}
