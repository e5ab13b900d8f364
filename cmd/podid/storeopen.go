package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/sqlite"
)

// defaultSQLitePath is where "--store sqlite:" keeps its database.
var defaultSQLitePath = filepath.Join("podid-data", "podid.db")

// storeOpeners maps a --store DSN scheme (the part before the first ':') to
// the constructor of its backend, which gets the whole DSN. Backends in
// other files add themselves in an init function.
var storeOpeners = map[string]func(ctx context.Context, dsn string) (store.Store, error){
	"sqlite": openSQLite,
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

// storeScheme returns the DSN's scheme, or an error naming the known ones.
func storeScheme(dsn string) (string, error) {
	scheme, _, ok := strings.Cut(dsn, ":")
	if _, known := storeOpeners[scheme]; !ok || !known {
		// Only the scheme: a DSN can carry a password.
		return "", fmt.Errorf("--store: unknown store type %q; use %s", scheme, strings.Join(knownSchemes(), " or "))
	}
	return scheme, nil
}

func knownSchemes() []string {
	var out []string
	for s := range storeOpeners {
		out = append(out, s+":...")
	}
	sort.Strings(out)
	return out
}

// openStore opens the store a DSN names.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	scheme, err := storeScheme(dsn)
	if err != nil {
		return nil, err
	}
	st, err := storeOpeners[scheme](ctx, dsn)
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
