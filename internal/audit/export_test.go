package audit

// ProcessCPU is processCPU, for the package's external benchmarks.
var ProcessCPU = processCPU
