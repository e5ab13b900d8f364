package assoccache

import (
	"encoding/binary"
	"hash/maphash"
	"math"

	"github.com/podid/podid/internal/store"
)

// table holds the cached associations in a layout without pointers, so
// that a million of them cost little memory and no garbage collector
// work:
//
//   - recs: one fixed-size record per association (slots of deleted ones
//     reused); strings that repeat across associations (cluster, as
//     clusterKey(region, name), namespace, roles, external ID, policy)
//     are numbers in strs;
//   - arena: each record's own strings (ID, service account), back to
//     back in one byte slice, compacted when deletions have left half of
//     it unused;
//   - byKey, byID: open-addressing hash indexes of record numbers.
//
// The caller serializes writes and excludes them from reads.
type table struct {
	recs    []rec
	free    []uint32 // numbers of unused records
	arena   []byte
	garbage int // bytes of arena no live record uses
	strs    strtab
	byKey   index
	byID    index
	seed    maphash.Seed
}

// rec is one association. Its ID and service account are
// arena[off:off+idLen] and the saLen bytes after.
type rec struct {
	off         uint32
	idLen       uint16
	saLen       uint16
	cluster     uint32 // strs numbers; 0 is ""
	namespace   uint32
	role        uint32
	targetRole  uint32
	externalID  uint32
	policy      uint32
	seen        uint32 // resync generation that last saw it
	live        bool
	disableTags bool
	revision    int64
	modified    int64 // ModifiedAt, Unix nanoseconds
}

// maxArena bounds the arena: offsets are 32-bit.
const maxArena = math.MaxUint32

func newTable() *table { return &table{seed: maphash.MakeSeed()} }

func (t *table) len() int { return t.byID.n }

func (t *table) id(r *rec) []byte { return t.arena[r.off : r.off+uint32(r.idLen)] }

func (t *table) serviceAccount(r *rec) []byte {
	o := r.off + uint32(r.idLen)
	return t.arena[o : o+uint32(r.saLen)]
}

func (t *table) keyHash(cluster, namespace uint32, sa []byte, saStr string) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], cluster)
	binary.LittleEndian.PutUint32(b[4:], namespace)
	h.Write(b[:])
	if sa != nil {
		h.Write(sa)
	} else {
		h.WriteString(saStr)
	}
	return h.Sum64()
}

func (t *table) recKeyHash(n uint32) uint64 {
	r := &t.recs[n]
	return t.keyHash(r.cluster, r.namespace, t.serviceAccount(r), "")
}

func (t *table) idHash(id string) uint64 { return maphash.String(t.seed, id) }

func (t *table) recIDHash(n uint32) uint64 { return maphash.Bytes(t.seed, t.id(&t.recs[n])) }

// clusterKey is the strs string of region's cluster name: neither a region
// nor a cluster name holds a "/", so the pair is unambiguous, and it costs
// a record no more than the name alone.
func clusterKey(region, name string) string { return region + "/" + name }

// findKey returns the number of the record for (cluster, namespace,
// service account); cluster is a clusterKey.
func (t *table) findKey(cluster, namespace, sa string) (uint32, bool) {
	c, ok := t.strs.find(cluster)
	if !ok {
		return 0, false
	}
	ns, ok := t.strs.find(namespace)
	if !ok {
		return 0, false
	}
	return t.byKey.find(t.keyHash(c, ns, nil, sa), func(n uint32) bool {
		r := &t.recs[n]
		return r.cluster == c && r.namespace == ns && string(t.serviceAccount(r)) == sa
	})
}

// findID returns the number of the record with ID id.
func (t *table) findID(id string) (uint32, bool) {
	return t.byID.find(t.idHash(id), func(n uint32) bool { return string(t.id(&t.recs[n])) == id })
}

// lookup returns the association for (cluster, namespace, service
// account) of region's cluster.
func (t *table) lookup(region, cluster, namespace, sa string) (Association, bool) {
	n, ok := t.findKey(clusterKey(region, cluster), namespace, sa)
	if !ok {
		return Association{}, false
	}
	r := &t.recs[n]
	return Association{
		ID:                 string(t.id(r)),
		Region:             region,
		ClusterName:        cluster,
		Namespace:          namespace,
		ServiceAccount:     sa,
		RoleARN:            t.strs.str(r.role),
		TargetRoleARN:      t.strs.str(r.targetRole),
		ExternalID:         t.strs.str(r.externalID),
		Policy:             t.strs.str(r.policy),
		DisableSessionTags: r.disableTags,
		Revision:           r.revision,
	}, true
}

// modified returns the ModifiedAt (Unix nanoseconds) of the association
// with ID id.
func (t *table) modified(id string) (int64, bool) {
	n, ok := t.findID(id)
	if !ok {
		return 0, false
	}
	return t.recs[n].modified, true
}

// put stores a, seen in generation seen, replacing the association with
// its ID and any other holding its (cluster, namespace, service account).
func (t *table) put(a *store.Association, seen uint32) {
	if n, ok := t.findID(a.ID); ok {
		if r := &t.recs[n]; t.strs.str(r.cluster) == clusterKey(a.Region, a.ClusterName) && t.strs.str(r.namespace) == a.Namespace &&
			string(t.serviceAccount(r)) == a.ServiceAccount {
			// An update, or a resync seeing it again: in place, the
			// indexes and the arena untouched.
			t.set(r, a, seen)
			return
		}
		t.remove(n)
	}
	ck := clusterKey(a.Region, a.ClusterName)
	c, ns := t.strs.ref(ck), t.strs.ref(a.Namespace)
	if n, ok := t.findKey(ck, a.Namespace, a.ServiceAccount); ok {
		t.remove(n) // its delete is older than this create
	}
	size := len(a.ID) + len(a.ServiceAccount)
	if len(a.ID) > math.MaxUint16 || len(a.ServiceAccount) > math.MaxUint16 {
		// The store's validation keeps both far shorter; never index
		// what the record cannot hold.
		t.strs.unref(c)
		t.strs.unref(ns)
		return
	}
	if len(t.arena)+size > maxArena {
		t.compact()
	}
	r := rec{
		off:         uint32(len(t.arena)),
		idLen:       uint16(len(a.ID)),
		saLen:       uint16(len(a.ServiceAccount)),
		cluster:     c,
		namespace:   ns,
		role:        t.strs.ref(a.RoleARN),
		targetRole:  t.strs.ref(a.TargetRoleARN),
		externalID:  t.strs.ref(a.ExternalID),
		policy:      t.strs.ref(a.Policy),
		seen:        seen,
		live:        true,
		disableTags: a.DisableSessionTags,
		revision:    a.Revision,
		modified:    a.ModifiedAt.UnixNano(),
	}
	t.arena = append(append(t.arena, a.ID...), a.ServiceAccount...)
	var n uint32
	if k := len(t.free); k > 0 {
		n = t.free[k-1]
		t.free = t.free[:k-1]
		t.recs[n] = r
	} else {
		n = uint32(len(t.recs))
		t.recs = append(t.recs, r)
	}
	t.byKey.insert(t.recKeyHash(n), n, t.recKeyHash)
	t.byID.insert(t.recIDHash(n), n, t.recIDHash)
}

// set stores a's mutable fields in r, seen in generation seen.
func (t *table) set(r *rec, a *store.Association, seen uint32) {
	old := [...]uint32{r.role, r.targetRole, r.externalID, r.policy}
	r.role, r.targetRole = t.strs.ref(a.RoleARN), t.strs.ref(a.TargetRoleARN)
	r.externalID, r.policy = t.strs.ref(a.ExternalID), t.strs.ref(a.Policy)
	for _, s := range old {
		t.strs.unref(s)
	}
	r.seen, r.disableTags = seen, a.DisableSessionTags
	r.revision, r.modified = a.Revision, a.ModifiedAt.UnixNano()
}

// deleteID removes the association with ID id if it is in region's
// cluster.
func (t *table) deleteID(id, region, cluster string) {
	n, ok := t.findID(id)
	if ok && t.strs.str(t.recs[n].cluster) == clusterKey(region, cluster) {
		t.remove(n)
	}
}

// sweep removes the associations generation gen did not see.
func (t *table) sweep(gen uint32) {
	for n := range t.recs {
		if r := &t.recs[n]; r.live && r.seen != gen {
			t.remove(uint32(n))
		}
	}
}

func (t *table) remove(n uint32) {
	t.byKey.remove(t.recKeyHash(n), n, t.recKeyHash)
	t.byID.remove(t.recIDHash(n), n, t.recIDHash)
	r := &t.recs[n]
	for _, s := range [...]uint32{r.cluster, r.namespace, r.role, r.targetRole, r.externalID, r.policy} {
		t.strs.unref(s)
	}
	t.garbage += int(r.idLen) + int(r.saLen)
	*r = rec{}
	t.free = append(t.free, n)
	if t.garbage > 1<<20 && t.garbage > len(t.arena)/2 {
		t.compact()
	}
}

// compact copies the live records' strings into a new arena.
func (t *table) compact() {
	arena := make([]byte, 0, len(t.arena)-t.garbage)
	for n := range t.recs {
		r := &t.recs[n]
		if !r.live {
			continue
		}
		end := r.off + uint32(r.idLen) + uint32(r.saLen)
		off := uint32(len(arena))
		arena = append(arena, t.arena[r.off:end]...)
		r.off = off
	}
	t.arena, t.garbage = arena, 0
}

// index is a hash index of record numbers: open addressing with linear
// probing; slots hold a record number + 1, 0 marks an empty slot. The
// hashes are not kept: the caller recomputes one from the record.
type index struct {
	slots []uint32
	n     int
}

// minSlots is an index's first size.
const minSlots = 1 << 10

// find returns the first record hashing to h that match accepts.
func (x *index) find(h uint64, match func(n uint32) bool) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	// At most 3/4 of the slots are used: the probe meets an empty one.
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if match(s - 1) {
			return s - 1, true
		}
	}
}

// insert adds record n, whose hash is h; hash rehashes records when the
// index grows.
func (x *index) insert(h uint64, n uint32, hash func(uint32) uint64) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow(hash)
	}
	x.place(h, n)
	x.n++
}

func (x *index) place(h uint64, n uint32) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = n + 1
}

func (x *index) grow(hash func(uint32) uint64) {
	old := x.slots
	x.slots = make([]uint32, max(minSlots, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			x.place(hash(s-1), s-1)
		}
	}
}

// remove drops record n, whose hash is h, if the index holds it, moving
// back the records after it in its probe run (Knuth's algorithm R) so
// that no tombstones are needed.
func (x *index) remove(h uint64, n uint32, hash func(uint32) uint64) {
	if x.n == 0 {
		return
	}
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != n+1 {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	x.slots[i] = 0
	x.n--
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		home := hash(x.slots[j]-1) & mask
		// The record at j stays if its home is cyclically in (i, j].
		if i <= j && i < home && home <= j || i > j && (i < home || home <= j) {
			continue
		}
		x.slots[i], x.slots[j] = x.slots[j], 0
		i = j
	}
}

// strtab interns the strings that repeat across associations, counting
// references so that a string no association uses any more is dropped.
// Number 0 is "".
type strtab struct {
	nums map[string]uint32
	strs []string
	refs []uint32
	free []uint32
}

func (s *strtab) find(v string) (uint32, bool) {
	if v == "" {
		return 0, true
	}
	n, ok := s.nums[v]
	return n, ok
}

func (s *strtab) str(n uint32) string {
	if n == 0 {
		return ""
	}
	return s.strs[n]
}

// ref returns v's number, counting one more reference to it.
func (s *strtab) ref(v string) uint32 {
	if v == "" {
		return 0
	}
	if n, ok := s.nums[v]; ok {
		s.refs[n]++
		return n
	}
	if s.nums == nil {
		s.nums = map[string]uint32{}
		s.strs, s.refs = []string{""}, []uint32{0}
	}
	var n uint32
	if k := len(s.free); k > 0 {
		n = s.free[k-1]
		s.free = s.free[:k-1]
		s.strs[n], s.refs[n] = v, 1
	} else {
		n = uint32(len(s.strs))
		s.strs, s.refs = append(s.strs, v), append(s.refs, 1)
	}
	s.nums[v] = n
	return n
}

// unref drops one reference to string n.
func (s *strtab) unref(n uint32) {
	if n == 0 {
		return
	}
	if s.refs[n]--; s.refs[n] == 0 {
		delete(s.nums, s.strs[n])
		s.strs[n] = ""
		s.free = append(s.free, n)
	}
}
