package postgres

import (
	"context"
	"github.com/jackc/pgx/v5/pgxpool"
	"time"
)

// OpenWithClock opens a store whose record expiry follows now.
func OpenWithClock(ctx context.Context, dsn string, now func() time.Time) (*Store, error) {
	return open(ctx, dsn, now)
}

// Prune removes expired records now.
func (s *Store) Prune(ctx context.Context) error { return s.prune(ctx) }

// Migrations is how many migrations this version knows.
var Migrations = len(migrations)

// OpenWithoutNotifications opens a store that behaves as on a database
// without LISTEN/NOTIFY: writes do not notify, Watch polls.
func OpenWithoutNotifications(ctx context.Context, dsn string) (*Store, error) {
	s, err := open(ctx, dsn, time.Now)
	if err == nil {
		s.notifications = false
	}
	return s, err
}

// MigrateTo brings the schema at dsn to version n only, as an older podid
// did.
func MigrateTo(ctx context.Context, dsn string, n int) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	for v := 1; v <= n; v++ {
		if err := applyMigration(ctx, pool, v, migrations[v-1]); err != nil {
			return err
		}
	}
	return nil
}

// SetRecentEvents sets how many of the newest events tell how frequent a
// value is (recentEvents) until t ends.
func SetRecentEvents(t interface{ Cleanup(func()) }, n int) {
	old := recentEvents
	recentEvents = n
	t.Cleanup(func() { recentEvents = old })
}
