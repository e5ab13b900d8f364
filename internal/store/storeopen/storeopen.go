// Package storeopen opens the store a --store DSN names: one table from
// DSN scheme to backend, so a command needs no registry of its own and a
// new backend is one row here.
package storeopen

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/sqlite"
)

// Backend is what every backend's Store is: the contract and the prompt
// change signal.
type Backend interface {
	store.Store
	store.Watcher
}

// DefaultSQLiteFile is the database "sqlite:" keeps in the data directory.
const DefaultSQLiteFile = "podid.db"

// backends maps a DSN scheme (the part before the first ':') to the
// constructor of its backend, which gets the whole DSN and podid's data
// directory.
var backends = map[string]func(ctx context.Context, dsn, dataDir string) (Backend, error){
	"sqlite":     openSQLite,
	"postgres":   openPostgres,
	"postgresql": openPostgres,
}

// openSQLite opens "sqlite:" (DefaultSQLiteFile in dataDir), "sqlite:PATH"
// or "sqlite://PATH" (so sqlite:///abs/path.db works too).
func openSQLite(ctx context.Context, dsn, dataDir string) (Backend, error) {
	return sqlite.Open(ctx, SQLitePath(dsn, dataDir))
}

// openPostgres opens "postgres://user:password@host:port/db?sslmode=..."
// (or postgresql://), passed to pgx as is; several replicas may share it.
func openPostgres(ctx context.Context, dsn, _ string) (Backend, error) {
	return postgres.Open(ctx, dsn)
}

// SQLitePath is the database file a sqlite: DSN names: "sqlite:" alone
// is DefaultSQLiteFile in dataDir.
func SQLitePath(dsn, dataDir string) string {
	p := strings.TrimPrefix(dsn, "sqlite:")
	p = strings.TrimPrefix(p, "//")
	if p == "" {
		return filepath.Join(dataDir, DefaultSQLiteFile)
	}
	return p
}

// Check reports whether dsn names a known kind of store, with an error
// naming the known ones (and only the DSN's scheme: a DSN can carry a
// password).
func Check(dsn string) error {
	scheme, _, ok := strings.Cut(dsn, ":")
	if _, known := backends[scheme]; !ok || !known {
		return fmt.Errorf("--store: unknown store type %q; use %s", scheme, strings.Join(Schemes(), " or "))
	}
	return nil
}

// Schemes lists the known DSN forms, "postgres:..." and so on, sorted.
func Schemes() []string {
	var out []string
	for s := range backends {
		out = append(out, s+":...")
	}
	slices.Sort(out)
	return out
}

// Open opens the store dsn names; "sqlite:" keeps its database in dataDir.
func Open(ctx context.Context, dsn, dataDir string) (Backend, error) {
	if err := Check(dsn); err != nil {
		return nil, err
	}
	scheme, _, _ := strings.Cut(dsn, ":")
	st, err := backends[scheme](ctx, dsn, dataDir)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	return st, nil
}

// Redact hides a DSN's password for printing.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
