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

// OpenWithoutNotifications opens a store that behaves as on a database
// without LISTEN/NOTIFY: writes do not notify, Watch polls.
func OpenWithoutNotifications(ctx context.Context, dsn string) (*Store, error) {
	s, err := open(ctx, dsn, time.Now)
	if err == nil {
		s.notifications = false
	}
	return s, err
}
