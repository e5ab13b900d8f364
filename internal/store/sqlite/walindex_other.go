//go:build !unix

package sqlite

import "errors"

// mapWALIndex: no shared-memory mapping here, so no read cache
// (readCache stays off).
func mapWALIndex(string) (*walIndex, error) {
	return nil, errors.New("no WAL-index mapping on this platform")
}

type walIndex struct{}

func (*walIndex) header() (walHeader, bool) { return walHeader{}, false }

func (*walIndex) backlog() (n, frames uint32, ok bool) { return 0, 0, false }

func (*walIndex) close() error { return nil }
