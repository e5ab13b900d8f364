package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storetest"
)

func TestKeyLevels(t *testing.T) {
	at := map[int64]int{}
	for level := range keySliceBits {
		m := keyMoveAt(level)
		if prev, ok := at[m]; ok || m < 0 || m >= keyMovePeriod {
			t.Errorf("level %d moves at %d of %d (level %d too: %v)", level, m, keyMovePeriod, prev, ok)
		}
		at[m] = level
	}
	// A level's slices, in turn, cover the hash space once.
	for _, bits := range []uint{0, 1, 2, 7, 12} {
		next := int64(math.MinInt64)
		for i := range uint64(1) << bits {
			lo, hi := keySlice(bits, i)
			if lo != next || hi < lo {
				t.Fatalf("keySlice(%d, %d) = [%d, %d], want it to start at %d", bits, i, lo, hi, next)
			}
			next = hi + 1 // wraps after the last
		}
		if next != math.MinInt64 {
			t.Errorf("the %d slices of %d bits end at %d, want %d", 1<<bits, bits, next-1, int64(math.MaxInt64))
		}
	}
}

// keyLevelCounts reads how many entries each level of idempotency_keys
// holds.
func keyLevelCounts(t *testing.T, s *Store) []int {
	t.Helper()
	got := make([]int, keyLevelCount)
	for level := range got {
		got[level] = countRows(t, s, keyTable(level))
	}
	return got
}

// keyTestStore opens a store with a cluster c1 and an association in it,
// and returns it with the association's ID and a function that updates
// the association with token i (and request hash).
func keyTestStore(t *testing.T, c *storetest.Clock) (*Store, func(i int, hash string) (store.Association, error)) {
	ctx := t.Context()
	s := openWithClock(t, c.Now)
	if _, err := s.CreateCluster(ctx, store.Cluster{Name: "c1"}, store.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateAssociation(ctx, testAssociation("a-00000000000000001", "sa"), store.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, func(i int, hash string) (store.Association, error) {
		return s.UpdateAssociation(ctx, "", "c1", a.ID, func(a *store.Association) error {
			a.RoleARN = fmt.Sprint("arn:aws:iam::000000000000:role/r", i)
			return nil
		}, store.WriteOptions{Idempotency: &store.Idempotency{Key: fmt.Sprint("UpdatePodIdentityAssociation//c1/tok-", i), Hash: hash}})
	}
}

// TestIdempotencyKeyLevels writes with 150 tokens through small levels
// (moves every 4 records, of a half, a quarter and an eighth of the hash
// space): every token replays its own write wherever its key's entry has
// moved, a token reused with other parameters is refused, one reused
// after it expired writes anew (and then replays that write), and pruning
// deletes the expired records with their entries.
func TestIdempotencyKeyLevels(t *testing.T) {
	defer func(p int64, b [len(keySliceBits)]uint) { keyMovePeriod, keySliceBits = p, b }(keyMovePeriod, keySliceBits)
	keyMovePeriod, keySliceBits = 4, [...]uint{1, 2, 3}
	ctx := t.Context()
	c := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, update := keyTestStore(t, c)
	const writes = 150
	revisions := make([]int64, writes)
	for i := range writes {
		got, err := update(i, "h")
		if err != nil {
			t.Fatal(err)
		}
		revisions[i] = got.Revision
		// Every entry is at one level or another at every write.
		if got := keyLevelCounts(t, s); got[0]+got[1]+got[2]+got[3] != i+1 {
			t.Fatalf("after record %d: entries by level = %v, want %d in all", i+1, got, i+1)
		}
	}
	// Level i holds about 4<<keySliceBits[i] entries (8, 16, 32), the
	// last the rest.
	got := keyLevelCounts(t, s)
	for level, bits := range keySliceBits {
		if got[level] == 0 || got[level] > 2*int(keyMovePeriod<<bits) {
			t.Errorf("entries by level = %v, want level %d to hold some and at most %d", got, level, 2*(keyMovePeriod<<bits))
		}
	}
	if got[3] < writes/2 {
		t.Errorf("entries by level = %v, want the last to hold at least %d", got, writes/2)
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
	if got := keyLevelCounts(t, s); got[0]+got[1]+got[2]+got[3] != 1 {
		t.Errorf("idempotency keys after pruning = %d, want 1", got)
	}
	if got, err := update(7, "other"); err != nil || got.Revision != again.Revision {
		t.Errorf("replay after pruning = revision %d, %v; want %d", got.Revision, err, again.Revision)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}

// TestIdempotencyKeyMoves writes 4,200 records with tokens through the
// levels as they are: no write moves more than twice keyMovePeriod
// entries from one level to the next (moving whole levels, the record
// 4,096 moved 4,096 of them, holding the writer 6 to 7.5 ms), and the
// levels stay about their size.
func TestIdempotencyKeyMoves(t *testing.T) {
	if testing.Short() {
		t.Skip("4,200 durable writes")
	}
	c := storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, update := keyTestStore(t, c)
	const writes = 4200
	prev, most, at := keyLevelCounts(t, s), 0, 0
	for i := range writes {
		if _, err := update(i, "h"); err != nil {
			t.Fatal(err)
		}
		got := keyLevelCounts(t, s)
		prev[0]++ // the write's own entry
		moved := 0
		for level := range keySliceBits {
			moved += max(prev[level]-got[level], 0)
		}
		if moved > most {
			most, at = moved, i+1
		}
		prev = got
	}
	t.Logf("record %d moved the most entries, %d", at, most)
	if limit := 2 * int(keyMovePeriod); most > limit {
		t.Errorf("record %d moved %d entries, want at most %d", at, most, limit)
	}
	got := keyLevelCounts(t, s)
	for level, bits := range keySliceBits {
		if limit := 2 * int(keyMovePeriod<<bits); got[level] > limit {
			t.Errorf("entries by level = %v, want at most %d at level %d", got, limit, level)
		}
	}
	if got[0]+got[1]+got[2]+got[3] != writes {
		t.Errorf("entries by level = %v, want %d in all", got, writes)
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

// TestMigrateKeyTables opens a database at schema version 12 (the levels
// in one idempotency_keys table) with a token record at each level: after
// migration 13 each level's entries are in its own table and every record
// replays.
func TestMigrateKeyTables(t *testing.T) {
	ctx := t.Context()
	path, db := atVersion(t, 12)
	for level := range 4 {
		rec, err := json.Marshal(store.Cluster{Name: fmt.Sprint("c", level), Tags: map[string]string{}, Revision: int64(10 + level)})
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("CreateCluster//c%d/tok", level)
		res, err := db.ExecContext(ctx, "INSERT INTO idempotency (key, hash, result, created_at) VALUES (?, ?, ?, ?)",
			key, "h", rec, time.Now().UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO idempotency_keys (level, h, seq) VALUES (?, ?, ?)", level, keyHash(key), seq); err != nil {
			t.Fatal(err)
		}
	}
	s := migrated(t, db, path)
	if got, want := keyLevelCounts(t, s), []int{1, 1, 1, 1}; !cmp.Equal(got, want) {
		t.Errorf("entries by level after migration = %v, want %v", got, want)
	}
	for level := range 4 {
		idem := &store.Idempotency{Key: fmt.Sprintf("CreateCluster//c%d/tok", level), Hash: "h"}
		got, err := s.CreateCluster(ctx, store.Cluster{Name: fmt.Sprint("c", level)}, store.WriteOptions{Idempotency: idem})
		if err != nil || got.Revision != int64(10+level) {
			t.Errorf("replay of the record at level %d after migration = revision %d, %v; want %d", level, got.Revision, err, 10+level)
		}
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'idempotency_keys'").Scan(&n); err != nil || n != 0 {
		t.Errorf("idempotency_keys still there (%d, %v)", n, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
}
