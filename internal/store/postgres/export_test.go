package postgres

import (
	"context"
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
