package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storetest"
)

func TestKeyLevels(t *testing.T) {
	var want []string
	for i := 0; i <= len(keyLevelSize)+1; i++ { // and the sliced level and the last
		want = append(want, strconv.Itoa(i))
	}
	if got := strings.Split(keyLevels, ", "); !cmp.Equal(got, want) {
		t.Errorf("keyLevels = %q, want %q", keyLevels, strings.Join(want, ", "))
	}
}

// keyLevelCounts reads how many entries each level of idempotency_keys
// holds.
func keyLevelCounts(t *testing.T, s *Store) []int {
	t.Helper()
	got := make([]int, len(keyLevelSize)+2)
	rows, err := s.rdb.QueryContext(t.Context(), "SELECT level, count(*) FROM idempotency_keys GROUP BY level")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var level, n int
		if err := rows.Scan(&level, &n); err != nil {
			t.Fatal(err)
		}
		got[level] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestIdempotencyKeyLevels writes with 150 tokens through small levels
// and level 2 in two slices: every token replays its own write wherever its
// key's entry has moved, a
// token reused with other parameters is refused, one reused after it
// expired writes anew (and then replays that write), and pruning deletes
// the expired records with their entries.
func TestIdempotencyKeyLevels(t *testing.T) {
	defer func(l [len(keyLevelSize)]int64, b int) { keyLevelSize, keySliceBits = l, b }(keyLevelSize, keySliceBits)
	keyLevelSize, keySliceBits = [...]int64{4, 16}, 1
	ctx := t.Context()
	c := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := openWithClock(t, c.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, testAssociation("a-00000000000000001", "sa"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := func(i int, hash string) store.WriteOptions {
		return store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("UpdatePodIdentityAssociation//c1/tok-", i), Hash: hash}}
	}
	update := func(i int, hash string) (store.Association, error) {
		return s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
			a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/r", i)
			return nil
		}, token(i, hash))
	}
	const writes = 150
	revisions := make([]int64, writes)
	for i := range writes {
		got, err := update(i, "h")
		if err != nil {
			t.Fatal(err)
		}
		revisions[i] = got.Revision
	}
	// Records 1..150: level 0 moved at 148, level 1 at 144, and with it
	// level 2's slice (144/16)%2 = 1, the negative h: level 2 holds only
	// entries of slice 0 (moved at 128) that level 1 brought since.
	got := keyLevelCounts(t, s)
	if got[0] != 2 || got[1] != 4 || got[2]+got[3] != 144 || got[2] == 0 || got[3] == 0 {
		t.Errorf("entries by level = %v, want [2 4 x 144-x], neither x nor 144-x 0", got)
	}
	var negative int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM idempotency_keys WHERE level = 2 AND h < 0").Scan(&negative); err != nil || negative != 0 {
		t.Errorf("level 2 holds %d entries of the slice just moved (%v), want 0", negative, err)
	}
	for i := range writes {
		got, err := update(i, "h")
		if err != nil || got.Revision != revisions[i] || got.RoleARN != fmt.Sprint("arn:aws:iam::000000000000:role/r", i) {
			t.Fatalf("replay of token %d = revision %d, role %s, %v; want its write's (revision %d)", i, got.Revision, got.RoleARN, err, revisions[i])
		}
	}
	if _, err := update(7, "other"); !errors.Is(err, store.ErrIdempotencyMismatch) {
		t.Errorf("token reused with other parameters: %v, want ErrIdempotencyMismatch", err)
	}

	c.Advance(storeTTLPast)
	again, err := update(7, "other")
	if err != nil || again.Revision <= revisions[writes-1] {
		t.Fatalf("expired token reused = revision %d, %v; want a new write", again.Revision, err)
	}
	if got, err := update(7, "other"); err != nil || got.Revision != again.Revision {
		t.Errorf("replay of the reused token = revision %d, %v; want %d", got.Revision, err, again.Revision)
	}
	if err := s.prune(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, s, "idempotency"); got != 1 {
		t.Errorf("idempotency records after pruning = %d, want 1", got)
	}
	if got := countRows(t, s, "idempotency_keys"); got != 1 {
		t.Errorf("idempotency keys after pruning = %d, want 1", got)
	}
	if got, err := update(7, "other"); err != nil || got.Revision != again.Revision {
		t.Errorf("replay after pruning = revision %d, %v; want %d", got.Revision, err, again.Revision)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// storeTTLPast is a day and an hour: past every record's expiry.
const storeTTLPast = 25 * time.Hour

// TestMigrateIdempotencyKeys opens a database at schema version 10 (a
// UNIQUE index on the token's key) with token records: after migration 11
// each replays and refuses other parameters, and new records go to level 0
// after them.
func TestMigrateIdempotencyKeys(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 10)
	for i := 1; i <= 3; i++ {
		rec, err := json.Marshal(store.Cluster{Name: fmt.Sprint("c", i), Tags: map[string]string{}, Revision: int64(10 * i)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, "INSERT INTO idempotency (key, hash, result, created_at) VALUES (?, ?, ?, ?)",
			fmt.Sprintf("CreateCluster//c%d/tok", i), "h", rec, time.Now().UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	if got, want := keyLevelCounts(t, s), []int{0, 0, 0, 3}; !cmp.Equal(got, want) {
		t.Errorf("entries by level after migration = %v, want %v", got, want)
	}
	for i := 1; i <= 3; i++ {
		idem := &store.Idempotency{Key: fmt.Sprintf("CreateCluster//c%d/tok", i), Hash: "h"}
		got, err := s.CreateCluster(ctx, store.Cluster{Name: fmt.Sprint("c", i)}, store.WriteOptions{Idempotency: idem})
		if err != nil || got.Revision != int64(10*i) {
			t.Errorf("replay of record %d after migration = revision %d, %v; want %d", i, got.Revision, err, 10*i)
		}
		idem.Hash = "h2"
		_, err = s.CreateCluster(ctx, store.Cluster{Name: fmt.Sprint("c", i)}, store.WriteOptions{Idempotency: idem})
		if !errors.Is(err, store.ErrIdempotencyMismatch) {
			t.Errorf("reuse of record %d with other parameters: %v, want ErrIdempotencyMismatch", i, err)
		}
	}
	idem := &store.Idempotency{Key: "CreateCluster//c4/tok", Hash: "h"}
	first, err := s.CreateCluster(ctx, store.Cluster{Name: "c4"}, store.WriteOptions{Idempotency: idem})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.CreateCluster(ctx, store.Cluster{Name: "c4"}, store.WriteOptions{Idempotency: idem}); err != nil || got.Revision != first.Revision {
		t.Errorf("replay of a record made after migration = revision %d, %v; want %d", got.Revision, err, first.Revision)
	}
	if got, want := keyLevelCounts(t, s), []int{1, 0, 0, 3}; !cmp.Equal(got, want) {
		t.Errorf("entries by level after a new record = %v, want %v", got, want)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}
