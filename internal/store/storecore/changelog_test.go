package storecore_test

import (
	"testing"

	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/store/storecore"
)

// TestChangeLogBounded: the log answers for the changes after any
// revision since the oldest it keeps, keeps a bounded number of them
// however many commits it records, and answers nothing for revisions it
// forgot, nor past the newest commit.
func TestChangeLogBounded(t *testing.T) {
	var l storecore.ChangeLog
	if _, _, ok := l.RecentChanges(0); ok {
		t.Error("an empty log answered")
	}
	const commits = 10_000
	for rev := int64(1); rev <= commits; rev++ {
		l.Committed(storecore.Commit{After: rev - 1, Through: rev, Changes: []store.Change{{Revision: rev, AssociationID: "a"}}})
	}
	changes, through, ok := l.RecentChanges(commits - 10)
	if !ok || through != commits || len(changes) != 10 || changes[0].Revision != commits-9 {
		t.Errorf("RecentChanges(%d) = %d changes through %d, %v; want the last 10 through %d", commits-10, len(changes), through, ok, commits)
	}
	if _, _, ok := l.RecentChanges(1); ok {
		t.Error("RecentChanges(1) answered after 10,000 commits; want the oldest forgotten")
	}
	oldest := commits
	for after := int64(commits); after >= 0; after-- {
		if _, _, ok := l.RecentChanges(after); !ok {
			break
		}
		oldest = int(after)
	}
	if kept := commits - oldest; kept < 1024 || kept > 2048 {
		t.Errorf("the log answers for the last %d revisions; want between 1024 and 2048", kept)
	}
	if _, _, ok := l.RecentChanges(commits + 1); ok {
		t.Error("RecentChanges past the newest commit answered")
	}
}
