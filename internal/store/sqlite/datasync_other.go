//go:build !linux

package sqlite

import "os"

// dataSync flushes f to disk (fsync where fdatasync is not available).
func dataSync(f *os.File) error { return f.Sync() }
