package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/sqlite"
)

// defaultSQLitePath is where "--store sqlite:" keeps its database.
var defaultSQLitePath = filepath.Join("podid-data", "podid.db")

// storeOpener returns the constructor of the backend a --store DSN names
// by its scheme (the part before the first ':'); it gets the whole DSN.
// PostgreSQL ("postgres://user:password@host:port/db?sslmode=...", or
// postgresql://) is passed to pgx as is; several replicas may share it.
func storeOpener(dsn string) (func(ctx context.Context, dsn string) (store.Store, error), error) {
	scheme, _, _ := strings.Cut(dsn, ":")
	switch scheme {
	case "sqlite":
		return openSQLite, nil
	case "postgres", "postgresql":
		return openPostgres, nil
	}
	// Only the scheme: a DSN can carry a password.
	return nil, fmt.Errorf("--store: unknown store type %q; use postgres:... or postgresql:... or sqlite:...", scheme)
}

func openPostgres(ctx context.Context, dsn string) (store.Store, error) {
	return postgres.Open(ctx, dsn)
}

// openSQLite opens "sqlite:" (./podid-data/podid.db), "sqlite:PATH" or
// "sqlite://PATH" (so sqlite:///abs/path.db works too).
func openSQLite(ctx context.Context, dsn string) (store.Store, error) {
	return sqlite.Open(ctx, sqlitePath(dsn))
}

func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "sqlite:")
	p = strings.TrimPrefix(p, "//")
	if p == "" {
		return defaultSQLitePath
	}
	return p
}

// openStore opens the store a DSN names.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	open, err := storeOpener(dsn)
	if err != nil {
		return nil, err
	}
	st, err := open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	return st, nil
}

// redactDSN hides a DSN's password for printing.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
