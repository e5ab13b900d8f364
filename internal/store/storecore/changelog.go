package storecore

import (
	"slices"
	"sort"
	"sync"

	"github.com/podid/podid/internal/store"
)

// ChangeLog is a store's memory of its own recent commits, for
// store.RecentChanges and store.KnownRevisions: a backend's writer records
// each commit once it is durable, in commit order, before it signals
// watchers. Readers woken by the signal (the association cache, the IAM
// enforcer) then learn what changed without reading the database.
//
// A commit knows which revisions are its own: its transaction read the
// store's revision counter (after) as it took its first revision, and held
// the counter until it committed the last it took (through), so no other
// process's write has a revision in (after, through]. Successive commits of
// this process whose ranges meet (one's after is the last one's through)
// leave no revision to another process in between, and the log answers
// for every change since its oldest such commit; a commit that does not
// meet the last one (another process took revisions in between) starts the
// log afresh. Revisions another process takes after this process's last
// commit are unknown here until this process commits again (its range then
// does not meet) or a reader reads the database (its poll).
//
// The zero value is ready to use; it is safe for concurrent use.
type ChangeLog struct {
	mu       sync.Mutex
	known    bool  // a commit was recorded: through and iam hold
	complete bool  // changes holds every change in (start, through]
	start    int64 // revision the oldest change in changes follows
	through  int64 // the last revision of the newest commit recorded
	iam      int64 // the IAM revision as of through
	changes  []store.Change
}

// maxLogChanges is how many changes a ChangeLog keeps at least (twice as
// many at most): a reader further behind reads the change feed instead.
// Readers read the log at each commit's signal, a few milliseconds apart.
const maxLogChanges = 1024

// Commit is a durable commit of this process, as ChangeLog.Committed
// records it.
type Commit struct {
	// After is the store's revision when the commit's transaction took
	// its first revision; Through the last revision it took. The
	// revisions (After, Through] are all the commit's own.
	After, Through int64
	// IAMRevision is the store's IAM revision as of the commit.
	IAMRevision int64
	// Changes are the commit's changes to associations (the change feed's
	// entries, with Revision in (After, Through]), in revision order.
	Changes []store.Change
	// Partial: the commit changed associations that Changes does not list
	// (the log then answers no reader until a later commit starts it
	// afresh).
	Partial bool
}

// Committed records c, which became durable after every commit recorded
// before it. Its changes are kept as they are: the caller must not modify
// them afterwards.
func (l *ChangeLog) Committed(c Commit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || !l.complete || c.After != l.through {
		// Another process took revisions since the last commit recorded,
		// or the log could not follow it: what came before c is unknown.
		l.start = c.After
		l.changes = l.changes[:0:0]
	}
	l.known, l.complete = true, !c.Partial
	l.through, l.iam = c.Through, c.IAMRevision
	l.changes = append(l.changes, c.Changes...)
	if n := len(l.changes) - maxLogChanges; n > maxLogChanges {
		// Forget the oldest, into a new array: slices RecentChanges
		// returned keep the old one.
		l.start = l.changes[n-1].Revision
		l.changes = slices.Clone(l.changes[n:])
	}
}

// Elsewhere records that another process committed revisions through rev
// (0: revisions unknown, as after notifications were lost): unless this
// process's recorded commits reach past rev already, the log answers no
// reader until this process commits again. A store whose other writers'
// commits are announced to it (PostgreSQL's notifications) calls it
// before it signals watchers, so that a reader woken for another
// process's commit reads the change feed, which has it.
func (l *ChangeLog) Elsewhere(rev int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rev == 0 || rev > l.through {
		l.complete = false
	}
}

// RecentChanges implements store.RecentChanges.
func (l *ChangeLog) RecentChanges(after int64) (changes []store.Change, through int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || !l.complete || after < l.start || after > l.through {
		return nil, 0, false
	}
	i := sort.Search(len(l.changes), func(i int) bool { return l.changes[i].Revision > after })
	return slices.Clip(l.changes[i:]), l.through, true
}

// KnownRevisions implements store.KnownRevisions: the revision and IAM
// revision of the newest commit recorded (what this process committed;
// another process's later commits are not known here).
func (l *ChangeLog) KnownRevisions() (rev, iamRev int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.through, l.iam, l.known
}
