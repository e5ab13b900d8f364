package sqlite

import (
	"encoding/binary"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// walVFSName is the SQLite VFS the store's connections open the database
// with (dsn): the platform's default VFS, but for a -wal file's writes.
//
// SQLite writes each WAL frame with two writes, its 24-byte header and
// then its page, each a pwrite system call: a commit of 17 frames (8
// Updates) made 34 of them, some 2 µs each here, about a quarter of the
// writer goroutine's CPU per Update (its serial stage). This VFS gathers
// the writes that append to a -wal file in a buffer and writes them with
// one call once the transaction's commit frame is in it (or the buffer is
// full, or anything else touches the file), before COMMIT returns:
//   - SQLite marks a commit frame in its header (the database size,
//     bytes 4-7, is zero in every other frame), and writes a frame's page
//     right after its header, so the commit frame's page is the last
//     write of a COMMIT's frames; the buffer is written when it arrives.
//     Only then does SQLite publish the frames in the WAL index, where
//     other connections (readers, the checkpointer) learn of them.
//   - A write that does not append to the buffer (a frame rewritten in
//     place, the WAL header of a restart), and a read, sync, truncate,
//     size, file control or close of the file write the buffer first, so
//     the file is as SQLite left it whenever SQLite or the kernel looks.
//   - What a crash can leave is what it could without the buffer: some
//     of the frames of the transaction being committed, which recovery
//     ignores (their checksum chain stops before them). walSync's sync
//     starts after COMMIT returned, so after the buffer's write.
//
// Other files (the database, its WAL index) are the default VFS's own,
// untouched: a file of this VFS is laid out as a walFile header followed
// by the default VFS's file, and xOpen opens a file that is not a -wal
// file in place of the header (SQLite never sees the shim's methods).
const walVFSName = "podid-wal"

// walBufSize bounds the buffer of a -wal file (30 frames of 4 KiB pages);
// a longer commit writes it in pieces of this size. The unix VFS writes
// less than 128 KiB in a call (seekAndWriteFd masks the count with
// 0x1ffff: a larger write came out short, SQLITE_FULL).
const walBufSize = 127 << 10

// walFrameHeader is the size of a WAL frame's header.
const walFrameHeader = 24

// walFile is the head of a -wal file of walVFS; the default VFS's file
// follows it at real.
type walFile struct {
	methods uintptr // sqlite3_file.pMethods: walMethods
	real    uintptr // the default VFS's file
	buf     uintptr // walBufSize bytes (libc's heap), 0 until the first write
	off     int64   // the file offset of buf's first byte
	n       int32   // bytes in buf
	// commit is set when the last write was a commit frame's header: the
	// next (its page) ends the COMMIT's frames.
	commit bool
}

// walFileSize is walFile's size, rounded up to 8 bytes (the default VFS's
// file needs no more alignment).
const walFileSize = (unsafe.Sizeof(walFile{}) + 7) &^ 7

var (
	baseVFS    *sqlite3.Tsqlite3_vfs // the default VFS
	walVFS     sqlite3.Tsqlite3_vfs
	walMethods sqlite3.Tsqlite3_io_methods
	walVFSZ    = []byte(walVFSName + "\x00")
)

func init() {
	tls := libc.NewTLS()
	defer tls.Close()
	base := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if base == 0 {
		panic("sqlite: no default VFS")
	}
	baseVFS = (*sqlite3.Tsqlite3_vfs)(cPointer(base))
	// The default VFS's methods, on its own data, but for its files'
	// size and xOpen.
	walVFS = *baseVFS
	walVFS.FpNext = 0
	walVFS.FzName = uintptr(unsafe.Pointer(&walVFSZ[0]))
	walVFS.FszOsFile = baseVFS.FszOsFile + int32(walFileSize)
	walVFS.FxOpen = cFunc(walOpen)
	walMethods = sqlite3.Tsqlite3_io_methods{
		FiVersion:               3,
		FxClose:                 cFunc(walClose),
		FxRead:                  cFunc(walRead),
		FxWrite:                 cFunc(walWrite),
		FxTruncate:              cFunc(walTruncate),
		FxSync:                  cFunc(walSyncFile),
		FxFileSize:              cFunc(walFileSizeOf),
		FxLock:                  cFunc(walLock),
		FxUnlock:                cFunc(walUnlock),
		FxCheckReservedLock:     cFunc(walCheckReservedLock),
		FxFileControl:           cFunc(walFileControl),
		FxSectorSize:            cFunc(walSectorSize),
		FxDeviceCharacteristics: cFunc(walDeviceCharacteristics),
		FxShmMap:                cFunc(walShmMap),
		FxShmLock:               cFunc(walShmLock),
		FxShmBarrier:            cFunc(walShmBarrier),
		FxShmUnmap:              cFunc(walShmUnmap),
		FxFetch:                 cFunc(walFetch),
		FxUnfetch:               cFunc(walUnfetch),
	}
	if rc := sqlite3.Xsqlite3_vfs_register(tls, uintptr(unsafe.Pointer(&walVFS)), 0); rc != sqlite3.SQLITE_OK {
		panic("sqlite: registering the " + walVFSName + " VFS failed")
	}
}

// cFunc is f as the C code's function pointer (what modernc's translated
// SQLite calls through): the address of f's static closure.
func cFunc(f any) uintptr {
	type iface [2]uintptr
	return (*iface)(unsafe.Pointer(&f))[1]
}

// cPointer is p, an address in libc's heap (or a Go global the C code was
// given), as an unsafe.Pointer.
func cPointer(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

func walOpen(tls *libc.TLS, vfs, name, file uintptr, flags int32, outFlags uintptr) int32 {
	open := *(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&baseVFS.FxOpen))
	if flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		return open(tls, uintptr(unsafe.Pointer(baseVFS)), name, file, flags, outFlags)
	}
	f := (*walFile)(cPointer(file))
	*f = walFile{real: file + walFileSize}
	rc := open(tls, uintptr(unsafe.Pointer(baseVFS)), name, f.real, flags, outFlags)
	if rc == sqlite3.SQLITE_OK || f.realMethods() != nil {
		// SQLite closes a file whose methods are set, opened or not.
		f.methods = uintptr(unsafe.Pointer(&walMethods))
	}
	return rc
}

func walFileOf(file uintptr) *walFile { return (*walFile)(cPointer(file)) }

// realMethods are the default VFS's methods of f's file (nil if it did
// not open).
func (f *walFile) realMethods() *sqlite3.Tsqlite3_io_methods {
	return (*sqlite3.Tsqlite3_io_methods)(cPointer((*sqlite3.Tsqlite3_file)(cPointer(f.real)).FpMethods))
}

// flush writes the buffer out.
func (f *walFile) flush(tls *libc.TLS) int32 {
	f.commit = false
	if f.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := f.n
	f.n = 0
	return f.write(tls, f.buf, n, f.off)
}

// write is the default VFS's write.
func (f *walFile) write(tls *libc.TLS, p uintptr, n int32, off int64) int32 {
	write := *(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&f.realMethods().FxWrite))
	return write(tls, f.real, p, n, off)
}

func walWrite(tls *libc.TLS, file, p uintptr, n int32, off int64) int32 {
	f := walFileOf(file)
	ends := f.commit // this is the commit frame's page
	if f.n > 0 && (off != f.off+int64(f.n) || int(f.n)+int(n) > walBufSize) {
		if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if f.buf == 0 && n <= walBufSize {
		f.buf = libc.Xmalloc(tls, walBufSize)
	}
	if f.buf == 0 || n > walBufSize { // the buffer is empty
		f.commit = false
		return f.write(tls, p, n, off)
	}
	if f.n == 0 {
		f.off = off
	}
	data := unsafe.Slice((*byte)(cPointer(p)), n)
	copy(unsafe.Slice((*byte)(cPointer(f.buf+uintptr(f.n))), n), data)
	f.n += n
	if ends {
		return f.flush(tls)
	}
	f.commit = n == walFrameHeader && binary.BigEndian.Uint32(data[4:]) != 0
	return sqlite3.SQLITE_OK
}

func walClose(tls *libc.TLS, file uintptr) int32 {
	f := walFileOf(file)
	rc := f.flush(tls)
	closeFile := *(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&f.realMethods().FxClose))
	if crc := closeFile(tls, f.real); rc == sqlite3.SQLITE_OK {
		rc = crc
	}
	if f.buf != 0 {
		libc.Xfree(tls, f.buf)
		f.buf = 0
	}
	f.methods = 0
	return rc
}

// The methods that look at the file write the buffer first; the rest only
// pass the call on.

func walRead(tls *libc.TLS, file, p uintptr, n int32, off int64) int32 {
	f := walFileOf(file)
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	read := *(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&f.realMethods().FxRead))
	return read(tls, f.real, p, n, off)
}

func walTruncate(tls *libc.TLS, file uintptr, size int64) int32 {
	f := walFileOf(file)
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	truncate := *(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&f.realMethods().FxTruncate))
	return truncate(tls, f.real, size)
}

func walSyncFile(tls *libc.TLS, file uintptr, flags int32) int32 {
	f := walFileOf(file)
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return f.call2(tls, f.realMethods().FxSync, flags)
}

func walFileSizeOf(tls *libc.TLS, file, size uintptr) int32 {
	f := walFileOf(file)
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return f.callP(tls, f.realMethods().FxFileSize, size)
}

func walFileControl(tls *libc.TLS, file uintptr, op int32, arg uintptr) int32 {
	f := walFileOf(file)
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	control := *(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&f.realMethods().FxFileControl))
	return control(tls, f.real, op, arg)
}

func walLock(tls *libc.TLS, file uintptr, level int32) int32 {
	f := walFileOf(file)
	return f.call2(tls, f.realMethods().FxLock, level)
}

func walUnlock(tls *libc.TLS, file uintptr, level int32) int32 {
	f := walFileOf(file)
	return f.call2(tls, f.realMethods().FxUnlock, level)
}

func walCheckReservedLock(tls *libc.TLS, file, out uintptr) int32 {
	f := walFileOf(file)
	return f.callP(tls, f.realMethods().FxCheckReservedLock, out)
}

func walSectorSize(tls *libc.TLS, file uintptr) int32 {
	f := walFileOf(file)
	return f.call1(tls, f.realMethods().FxSectorSize)
}

func walDeviceCharacteristics(tls *libc.TLS, file uintptr) int32 {
	f := walFileOf(file)
	return f.call1(tls, f.realMethods().FxDeviceCharacteristics)
}

// The shared-memory and memory-mapping methods are the database file's;
// SQLite does not call them on a -wal file, but they pass on as the rest.

func walShmMap(tls *libc.TLS, file uintptr, page, size, extend int32, pp uintptr) int32 {
	f := walFileOf(file)
	m := f.realMethods()
	if m.FxShmMap == 0 {
		return sqlite3.SQLITE_IOERR
	}
	shmMap := *(*func(*libc.TLS, uintptr, int32, int32, int32, uintptr) int32)(unsafe.Pointer(&m.FxShmMap))
	return shmMap(tls, f.real, page, size, extend, pp)
}

func walShmLock(tls *libc.TLS, file uintptr, offset, n, flags int32) int32 {
	f := walFileOf(file)
	m := f.realMethods()
	if m.FxShmLock == 0 {
		return sqlite3.SQLITE_IOERR
	}
	shmLock := *(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&m.FxShmLock))
	return shmLock(tls, f.real, offset, n, flags)
}

func walShmBarrier(tls *libc.TLS, file uintptr) {
	f := walFileOf(file)
	if m := f.realMethods(); m.FxShmBarrier != 0 {
		(*(*func(*libc.TLS, uintptr))(unsafe.Pointer(&m.FxShmBarrier)))(tls, f.real)
	}
}

func walShmUnmap(tls *libc.TLS, file uintptr, del int32) int32 {
	f := walFileOf(file)
	if f.realMethods().FxShmUnmap == 0 {
		return sqlite3.SQLITE_OK
	}
	return f.call2(tls, f.realMethods().FxShmUnmap, del)
}

func walFetch(tls *libc.TLS, file uintptr, off int64, n int32, pp uintptr) int32 {
	f := walFileOf(file)
	m := f.realMethods()
	if rc := f.flush(tls); rc != sqlite3.SQLITE_OK || m.FxFetch == 0 {
		*(*uintptr)(cPointer(pp)) = 0 // no mapping: SQLite reads instead
		return rc
	}
	fetch := *(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&m.FxFetch))
	return fetch(tls, f.real, off, n, pp)
}

func walUnfetch(tls *libc.TLS, file uintptr, off int64, p uintptr) int32 {
	f := walFileOf(file)
	m := f.realMethods()
	if m.FxUnfetch == 0 {
		return sqlite3.SQLITE_OK
	}
	unfetch := *(*func(*libc.TLS, uintptr, int64, uintptr) int32)(unsafe.Pointer(&m.FxUnfetch))
	return unfetch(tls, f.real, off, p)
}

// call1, call2 and callP call the default VFS's method fn on f's file
// with no argument, an int32 or a pointer.
func (f *walFile) call1(tls *libc.TLS, fn uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&fn)))(tls, f.real)
}

func (f *walFile) call2(tls *libc.TLS, fn uintptr, arg int32) int32 {
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&fn)))(tls, f.real, arg)
}

func (f *walFile) callP(tls *libc.TLS, fn, arg uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&fn)))(tls, f.real, arg)
}
