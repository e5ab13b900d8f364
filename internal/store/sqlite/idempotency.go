package sqlite

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
	sqlite "modernc.org/sqlite"
)

// Idempotency records are appended to the idempotency table in insertion
// order (seq) and found by key through idempotency_keys0 to 3, a table per
// level of (h, seq) entries, h the key's keyHash. A client request token is
// random, so an index on the key took one leaf page at a random place in
// its b-tree for every write with a token, the largest share of an
// Update's WAL pages (1.3 of 3.5 in BenchmarkUpdateWALFrames). The levels
// are a log-structured merge instead: a new record's entry goes to level 0,
// which never holds much more than a page's worth of entries, so a commit's
// writes with tokens share one or two pages of it. Every keyMovePeriod
// records, each level i but the last moves one slice of the hash space
// (one of 1<<keySliceBits[i], in turn) into level i+1, in h order, so the
// entries land on each of the slice's pages about together: level i holds
// about keyMovePeriod<<keySliceBits[i] entries (128, 4,096 and 131,072)
// and a move about keyMovePeriod. The levels move at different records
// (keyMoveAt), so no write moves more than one level's slice: moving a
// whole level at once held the writer for every one of its entries (6 to
// 7.5 ms for level 1's 4,096, every writer waiting behind it). All in the
// writer's transaction: a rolled-back move only leaves a level larger. A
// lookup probes every level in one statement and compares the keys (h
// only narrows).
var (
	keyMovePeriod int64 = 64
	keySliceBits        = [...]uint{1, 6, 11}
)

// keyMoveAt is the record seq modulo keyMovePeriod at which level moves
// into the next: the levels' moves spread evenly over the period.
func keyMoveAt(level int) int64 {
	return int64(level) * keyMovePeriod / int64(len(keySliceBits))
}

// keySlice is the range [lo, hi] of hashes (signed int64s) in slice i of
// 1<<bits, in signed order: slice 0 starts at the most negative hash.
func keySlice(bits uint, i uint64) (lo, hi int64) {
	// Go's signed arithmetic wraps, so these are the unsigned slice's
	// bounds, the sign bit flipped.
	lo = math.MinInt64 + int64(i<<(64-bits))
	return lo, lo + int64(uint64(math.MaxUint64)>>bits)
}

// keyLevelCount is how many levels there are: one for each that moves
// (keySliceBits), and the last, which never does.
const keyLevelCount = len(keySliceBits) + 1

// keyHash is the first eight bytes of key's SHA-256: a client could not
// make many keys that share it and so slow their lookups.
func keyHash(key string) int64 {
	sum := sha256.Sum256([]byte(key))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// keyHashFunc is keyHash as the SQL function podid_key_hash(key), for
// the migration that built idempotency_keys and for pruning.
const keyHashFunc = "podid_key_hash"

func init() {
	err := sqlite.RegisterDeterministicScalarFunction(keyHashFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch k := args[0].(type) {
		case string:
			return keyHash(k), nil
		case []byte:
			return keyHash(string(k)), nil
		}
		return nil, fmt.Errorf("%s: a key is text, not %T", keyHashFunc, args[0])
	})
	if err != nil {
		panic(err) // registered twice: a programming error
	}
}

// idempotencySeqQuery is the seq of the newest record of a key (NULL
// without one), from its arguments ?1 = keyHash(key) and ?2 = key: the
// largest of one probe of each level. Written as "level IN (levels)", the
// probe made SQLite build an ephemeral b-tree of the levels on every run
// of the statement (the writer runs it for every Update with a token).
var idempotencySeqQuery = func() string {
	var probes []string
	for level := range keyLevelCount {
		probes = append(probes, "coalesce((SELECT max(k.seq) FROM "+keyTable(level)+" AS k JOIN idempotency AS j ON j.seq = k.seq"+
			" WHERE k.h = ?1 AND j.key = ?2), 0)")
	}
	return "SELECT nullif(max(" + strings.Join(probes, ", ") + "), 0)" // seq starts at 1
}()

// replay looks the idempotency token (if any) up inside the write
// transaction, through the driver's interfaces (writer.readRow), and
// decides on its record as storecore.Replay does.
func (s *Store) replay(tx *wtx, idem *store.Idempotency, out any) (replayed bool, err error) {
	if idem == nil {
		return false, nil
	}
	h := tx.keyHash(idem.Key)
	if tx.tokenAbsent(h) {
		return false, nil
	}
	return s.replayHash(tx, idem, h, out)
}

// replayHash is replay's lookup of idem's record, h its key's hash.
func (s *Store) replayHash(tx *wtx, idem *store.Idempotency, h int64, out any) (replayed bool, err error) {
	var v [3]driver.Value
	found, err := tx.w.readRow(replayQuery, []driver.NamedValue{{Ordinal: 1, Value: h}, {Ordinal: 2, Value: idem.Key}}, v[:])
	if err != nil {
		return false, fmt.Errorf("reading idempotency record: %w", err)
	}
	if !found {
		return false, nil
	}
	return s.replayRecord(idem, v[:], out)
}

// replayQuery reads the columns of a key's newest record (no row without
// one), from idempotencySeqQuery's arguments.
var replayQuery = "SELECT hash, result, created_at FROM idempotency WHERE seq = (" + idempotencySeqQuery + ")"

// replayRecord decides on a token's record, the driver's values of its
// hash, result and created_at, as storecore.Replay does.
func (s *Store) replayRecord(idem *store.Idempotency, v []driver.Value, out any) (replayed bool, err error) {
	var rec storecore.Record
	d := rawDecoder{v: v}
	d.text(&rec.Hash)
	d.blob(&rec.Result)
	d.integer(&rec.CreatedAt)
	if d.err != nil {
		return false, fmt.Errorf("reading idempotency record: %w", d.err)
	}
	return storecore.Replay(idem, rec, s.now(), out)
}

// remember stores the result of a write made with an idempotency token
// (storecore.Remember): the record, its key's entry in level 0, and the
// levels' moves that its seq calls for.
func (s *Store) remember(tx *wtx, idem *store.Idempotency, result any) error {
	return storecore.Remember(idem, result, s.now(), func(key string, rec storecore.Record) error {
		// A token reused after its record expired gets a new record;
		// lookups take the newest, and pruning deletes the old one.
		res, err := tx.exec(`INSERT INTO idempotency (key, hash, result, created_at) VALUES (?, ?, ?, ?)`,
			key, rec.Hash, rec.Result, rec.CreatedAt)
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		h := tx.keyHash(key)
		if _, err := tx.exec("INSERT INTO idempotency_keys0 (h, seq) VALUES (?, ?)", h, seq); err != nil {
			return err
		}
		tx.w.cache.tokens.added(h)
		for level, bits := range keySliceBits {
			if seq%keyMovePeriod == keyMoveAt(level) {
				lo, hi := keySlice(bits, uint64(seq/keyMovePeriod)%(1<<bits))
				return moveKeys(tx, level, lo, hi)
			}
		}
		return nil
	})
}

// keyTable is the table of level's entries.
func keyTable(level int) string { return fmt.Sprint("idempotency_keys", level) }

// moveKeys moves level's entries whose h is in [lo, hi] (a range of the
// signed int64s) into the next level. A table per level: moving within
// one table (an UPDATE of the level, or INSERT ... SELECT from itself)
// made SQLite copy the rows to a temporary table first, and cost about
// twice as much.
func moveKeys(tx *wtx, level int, lo, hi int64) error {
	_, err := tx.exec("INSERT INTO "+keyTable(level+1)+" (h, seq) SELECT h, seq FROM "+keyTable(level)+
		" WHERE h BETWEEN ? AND ? ORDER BY h, seq", lo, hi)
	if err == nil {
		_, err = tx.exec("DELETE FROM "+keyTable(level)+" WHERE h BETWEEN ? AND ?", lo, hi)
	}
	if err != nil {
		return fmt.Errorf("moving idempotency keys from level %d: %w", level, err)
	}
	return nil
}

// pruneIdempotency deletes the records created before expired (Unix
// microseconds) and their keys' entries. Records are appended in time
// order: it deletes those before the first live one. Finding it reads
// only the expired records (no index on created_at to maintain on every
// write), and whatever a step of the clock leaves out of order is never
// deleted early, only late (replay ignores expired records anyway).
func pruneIdempotency(tx *wtx, expired int64) error {
	var cutoff int64
	err := tx.queryRow(`SELECT coalesce(
	(SELECT seq FROM idempotency WHERE created_at >= ? ORDER BY seq LIMIT 1),
	(SELECT max(seq) + 1 FROM idempotency), 0)`, expired).Scan(&cutoff)
	if err != nil {
		return err
	}
	for level := range keyLevelCount {
		_, err = tx.exec("DELETE FROM "+keyTable(level)+" WHERE h IN (SELECT "+keyHashFunc+
			"(key) FROM idempotency WHERE seq < ?) AND seq < ?", cutoff, cutoff)
		if err != nil {
			return err
		}
	}
	_, err = tx.exec("DELETE FROM idempotency WHERE seq < ?", cutoff)
	return err
}
