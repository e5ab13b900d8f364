package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/postgres"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openWithClock(t *testing.T, dsn string, c *clock) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenWithClock(t.Context(), dsn, c.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIdempotencyRecordsExpire(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openWithClock(t, pgtest.Schema(t, pgtest.DSN(t)), c)
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	idem := &store.Idempotency{Key: "CreatePodIdentityAssociation/c1/tok", Hash: "h1"}
	first, err := s.CreateAssociation(ctx, association("a-00000000000000001", "c1", "ns", "sa1"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatal(err)
	}

	c.advance(23 * time.Hour)
	replay, err := s.CreateAssociation(ctx, association("a-00000000000000002", "c1", "ns", "sa1"), store.WriteOptions{Idempotency: idem})
	if err != nil || replay.ID != first.ID {
		t.Errorf("replay within 24h = %s, %v; want %s", replay.ID, err, first.ID)
	}

	// After 24 hours the token is forgotten: reuse with other parameters
	// is a new request, and is remembered afresh.
	c.advance(2 * time.Hour)
	other := &store.Idempotency{Key: idem.Key, Hash: "h2"}
	created, err := s.CreateAssociation(ctx, association("a-00000000000000003", "c1", "ns", "sa2"), store.WriteOptions{Idempotency: other})
	if err != nil || created.ID != "a-00000000000000003" {
		t.Errorf("reusing an expired token = %s, %v; want a new association", created.ID, err)
	}
	replay, err = s.CreateAssociation(ctx, association("a-00000000000000004", "c1", "ns", "sa2"), store.WriteOptions{Idempotency: other})
	if err != nil || replay.ID != created.ID {
		t.Errorf("replay of the renewed token = %s, %v; want %s", replay.ID, err, created.ID)
	}
}

func TestPruneRemovesExpiredRecords(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openWithClock(t, dsn, c)
	if _, err := s.CreateCluster(ctx, cluster("c1"), store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a, err := s.CreateAssociation(ctx, association(fmt.Sprintf("a-0000000000000000%d", i), "c1", "ns", fmt.Sprint("sa", i)),
			store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("k", i), Hash: "h"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteAssociation(ctx, "c1", a.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{12 * time.Hour, 3}, {13 * time.Hour, 0}} {
		c.advance(step.advance)
		if err := s.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"idempotency", "tombstones"} {
			if got := countRows(t, dsn, table); got != step.want {
				t.Errorf("%s rows after %v more = %d, want %d", table, step.advance, got, step.want)
			}
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	pgtest.Open(t, dsn)
	if got := countRows(t, dsn, "schema_migrations"); got != postgres.Migrations {
		t.Errorf("schema_migrations has %d rows, want %d", got, postgres.Migrations)
	}
	pgtest.Exec(t, dsn, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", postgres.Migrations+1)
	if s, err := postgres.Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}
