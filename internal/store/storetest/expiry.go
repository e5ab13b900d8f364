package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/podid/podid/internal/store"
)

// Clock is a settable clock for the cases that need a store's clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that reads t until advanced.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// RunExpiry runs the cases about the expiry of stored records. newStore
// must return a new, empty store that reads the time from now (and arrange
// its cleanup).
func RunExpiry(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	t.Run("IdempotencyRecordsExpire", func(t *testing.T) {
		c := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		testIdempotencyExpires(t, newStore(t, c.Now), c)
	})
}

// testIdempotencyExpires: a token is remembered for 24 hours, then
// forgotten: reused with other parameters it is a new request, and is
// remembered afresh.
func testIdempotencyExpires(t *testing.T, s store.Store, c *Clock) {
	ctx := t.Context()
	mustCreateCluster(t, s, "c1")
	idem := &store.Idempotency{Key: "CreatePodIdentityAssociation/c1/tok", Hash: "h1"}
	first, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa1"), store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatal(err)
	}

	c.Advance(23 * time.Hour)
	replay, err := s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa1"), store.WriteOptions{Idempotency: idem})
	if err != nil || replay.ID != first.ID {
		t.Errorf("replay within 24h = %s, %v; want %s", replay.ID, err, first.ID)
	}

	c.Advance(2 * time.Hour)
	other := &store.Idempotency{Key: idem.Key, Hash: "h2"}
	fresh := newAssociation("c1", "ns", "sa2")
	created, err := s.CreateAssociation(ctx, fresh, store.WriteOptions{Idempotency: other})
	if err != nil || created.ID != fresh.ID {
		t.Errorf("reusing an expired token = %s, %v; want a new association %s", created.ID, err, fresh.ID)
	}
	replay, err = s.CreateAssociation(ctx, newAssociation("c1", "ns", "sa2"), store.WriteOptions{Idempotency: other})
	if err != nil || replay.ID != created.ID {
		t.Errorf("replay of the renewed token = %s, %v; want %s", replay.ID, err, created.ID)
	}
}

// CheckMigratedCluster checks cluster name as a store shows it after
// migrating a database written before clusters kept their own issuer URL
// (the row: role arn:aws:iam::000000000000:role/eks, signing keys
// {"keys":[]}): as stored, with Issuer.PodidURL empty, which an update
// then sets.
func CheckMigratedCluster(t *testing.T, s store.Store, name string) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.AdoptRegion(ctx, region); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetCluster(ctx, region, name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer.PodidURL != "" || string(c.Issuer.SigningKeys) != `{"keys":[]}` || c.RoleARN != "arn:aws:iam::000000000000:role/eks" {
		t.Errorf("cluster after the migration: %+v; want it as stored, PodidURL empty", c)
	}
	url := "http://127.0.0.1:1/clusters-oidc/" + name
	c, err = s.UpdateCluster(ctx, region, name, func(c *store.Cluster) error { c.Issuer.PodidURL = url; return nil })
	if err != nil || c.Issuer.PodidURL != url {
		t.Errorf("storing the issuer URL: %+v, %v", c.Issuer, err)
	}
}
