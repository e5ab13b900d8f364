// Package privfs keeps podid's files private to the user podid runs as:
// directories it makes are 0700, files it writes 0600, and Check refuses a
// directory or file that another user owns or that other users can read
// or write, with an error that says how to fix it. The SQLite store holds
// STS's sealing key and every cluster's signing key, and the admin
// credentials file holds the admin's secret, so a readable copy is a
// forged session.
package privfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Modes podid creates.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// UnsafeError is a path other users can read, write or own.
type UnsafeError struct {
	Path   string
	Reason string // "is owned by uid 65534, not by uid 0 (podid's user)", ...
	Fix    string // the command that fixes it
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("%s %s; podid keeps secrets there: fix it with `%s`", e.Path, e.Reason, e.Fix)
}

// Check refuses path (a directory or a file) when another user owns it or
// other users may read or write it (any group or other permission bit).
// A path that does not exist is fine: podid creates it private.
func Check(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		// Follow it, but judge the target (and say so).
		if info, err = os.Stat(path); err != nil {
			return err
		}
	}
	chmod := "chmod 600"
	if info.IsDir() {
		chmod = "chmod 700"
	}
	if uid, me, ok := owner(info); ok && uid != me {
		return &UnsafeError{Path: path,
			Reason: fmt.Sprintf("is owned by uid %d, not by uid %d (podid's user)", uid, me),
			Fix:    fmt.Sprintf("chown %d %s && %s %s", me, path, chmod, path)}
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return &UnsafeError{Path: path,
			Reason: fmt.Sprintf("has mode %04o: other users can read or write it", perm),
			Fix:    fmt.Sprintf("%s %s", chmod, path)}
	}
	return nil
}

// MkdirAll makes dir (and its parents) with mode 0700, then checks dir.
func MkdirAll(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	return Check(dir)
}

// Touch creates path (mode 0600) when it does not exist, so that a
// library that would create it with wider permissions (SQLite makes its
// database, -wal and -shm 0644 less the umask, the journals copying the
// database's mode) finds it private; an existing path is checked.
func Touch(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return Check(path)
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// CheckAll checks each path, joining the refusals.
func CheckAll(paths ...string) error {
	var errs []error
	for _, p := range paths {
		errs = append(errs, Check(p))
	}
	return errors.Join(errs...)
}
