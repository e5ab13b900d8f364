package sqlite

import (
	"os"
	"syscall"
)

// dataSync flushes f's data to disk, and of its metadata only what reading
// the data back needs (its size): fdatasync(2). The -wal file is rewritten
// in place, so its modification time, which fsync would also write to the
// file system's journal, need not be.
func dataSync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
