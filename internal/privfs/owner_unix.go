//go:build unix

package privfs

import (
	"io/fs"
	"os"
	"syscall"
)

// owner is the uid that owns info's file and podid's own effective uid.
func owner(info fs.FileInfo) (uid, me int, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), os.Geteuid(), true
}
