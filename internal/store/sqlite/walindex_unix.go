//go:build unix

package sqlite

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mapWALIndex maps the start of the database's WAL-index (its -shm file,
// which every connection of every process on the database shares) for
// reading its header.
func mapWALIndex(dbPath string) (*walIndex, error) {
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// SQLite sizes the file in 32 KiB regions once the WAL is in use; the
	// first region holds the header and is never shrunk while a connection
	// (ours) is open.
	if fi.Size() < walIndexMapBytes {
		return nil, fmt.Errorf("%s-shm holds %d bytes, not yet a WAL-index", dbPath, fi.Size())
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, walIndexMapBytes, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s-shm: %w", dbPath, err)
	}
	return &walIndex{mem: mem}, nil
}

// walIndexMapBytes is how much of the WAL-index is mapped: a page, the
// headers' 96 bytes rounded up.
const walIndexMapBytes = 4096

// walIndex is the mapped start of a WAL-index.
type walIndex struct {
	mem []byte
}

// header reads the WAL-index header as SQLite's readers do: copy 1 after
// copy 0 (the writer writes them in the other order), consistent when
// they match; false when they do not (a commit is writing them) or the
// index is not initialized.
func (w *walIndex) header() (walHeader, bool) {
	var h0, h1 walHeader
	base := unsafe.Pointer(unsafe.SliceData(w.mem))
	for i := range h0 {
		h0[i] = atomic.LoadUint32((*uint32)(unsafe.Add(base, 4*i)))
	}
	for i := range h1 {
		h1[i] = atomic.LoadUint32((*uint32)(unsafe.Add(base, walHeaderBytes+4*i)))
	}
	return h0, h0 == h1 && h0.initialized()
}

// backlog returns how many frames of the WAL no checkpoint has copied
// into the database yet: the header's last valid frame (mxFrame, returned
// as frames) less the checkpoint's progress (nBackfill, the first field of
// the WalCkptInfo that follows the header's two copies); false when the
// header is being written.
func (w *walIndex) backlog() (n, frames uint32, ok bool) {
	h, ok := w.header()
	if !ok {
		return 0, 0, false
	}
	base := unsafe.Pointer(unsafe.SliceData(w.mem))
	backfilled := atomic.LoadUint32((*uint32)(unsafe.Add(base, 2*walHeaderBytes)))
	return h[4] - min(backfilled, h[4]), h[4], true
}

// close unmaps the index.
func (w *walIndex) close() error {
	return syscall.Munmap(w.mem)
}
