// Package pgtest gives tests a PostgreSQL store of their own: the server
// named by TEST_POSTGRES_DSN (ci/postgres.sh starts one and prints it), a
// fresh schema per test, dropped when the test ends. Without the variable,
// tests that need PostgreSQL skip, saying how to run them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store/postgres"
)

// closeTimeout bounds how long a test waits for a store to close.
const closeTimeout = 30 * time.Second

// EnvDSN is the environment variable naming the test server.
const EnvDSN = "TEST_POSTGRES_DSN"

// DSN returns the test server's DSN, or skips t when none is set.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skip("set " + EnvDSN + "=postgres://... to run the PostgreSQL tests; ci/postgres.sh starts one")
	}
	return dsn
}

// Schema creates a new, empty schema on the server at dsn, drops it (and
// everything in it) when t ends, and returns dsn with search_path set to it,
// so stores opened with the result are isolated from every other test's.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "podid_test_" + hex.EncodeToString(b[:])
	exec(t, dsn, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		exec(t, dsn, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	return WithSearchPath(t, dsn, schema)
}

// WithSearchPath returns dsn (a URL or a key=value string) with its
// search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s is not a valid URL", EnvDSN)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// Open opens a store on dsn and closes it when t ends.
func Open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Close waits for connections in use; a bug that leaks one
		// would hang the test binary instead of failing the test.
		done := make(chan struct{})
		go func() {
			s.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeTimeout):
			t.Errorf("closing the store: still waiting after %v (a connection was not released)", closeTimeout)
		}
	})
	return s
}

// Exec runs one statement on its own connection to dsn, for tests that
// reach behind a store's back (to damage it, or to look at its tables).
func Exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	exec(t, dsn, sql, args...)
}

func exec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
