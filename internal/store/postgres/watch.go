package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/podid/podid/internal/store"
)

const (
	// listenBackoffMin and listenBackoffMax bound the wait between
	// attempts to reconnect the listening connection.
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 5 * time.Second
	// listenConnectTimeout bounds one connection attempt.
	listenConnectTimeout = 10 * time.Second
)

// Watch returns a channel that receives a value after one or more writes
// commit, on this replica or any other sharing the database. Signals
// coalesce: a slow reader sees one pending signal for many commits. The
// channel is closed when ctx ends or the store closes.
//
// The first Watch starts the store's listener: one dedicated connection
// that LISTENs on the store's channel (every write transaction NOTIFYs it
// at commit). Watch returns once the listener is listening, so a write
// committed after Watch returns is signalled. When the connection breaks,
// the listener reconnects with backoff and then signals every watcher, as
// notifications may have been missed meanwhile; readers resync
// periodically anyway.
//
// On a database without LISTEN/NOTIFY (found at Open), Watch polls the
// revision counter every pollInterval instead.
func (s *Store) Watch(ctx context.Context) (<-chan struct{}, error) {
	if err := s.startListener(ctx); err != nil {
		return nil, fmt.Errorf("watching for changes: %w", err)
	}
	ch, ok := s.changed.Subscribe(ctx)
	if !ok {
		return nil, fmt.Errorf("watching for changes: %w", errClosed)
	}
	return ch, nil
}

// notifyLocal signals every watcher without blocking; a watcher with a
// signal already pending has nothing more to learn. Local writes call it
// after commit (the notification through the database follows, and
// coalesces).
func (s *Store) notifyLocal() { s.changed.Notify() }

// signalled signals every watcher after this replica committed revisions
// up to rev, and records rev: the listener then drops notifications of
// revisions up to it (see listenLoop).
func (s *Store) signalled(rev int64) {
	s.localRev.Store(rev) // one writer, committing in revision order
	s.notifyLocal()
}

// RecentChanges implements store.RecentChanges: what this replica's
// recent commits changed, as its writer recorded them
// (storecore.ChangeLog). Another replica's commit, which this one learns
// of from its own next commit's revisions or from the other's
// notification, makes it answer nothing until this replica commits again.
func (s *Store) RecentChanges(after int64) ([]store.Change, int64, bool) {
	return s.log.RecentChanges(after)
}

// KnownRevisions implements store.KnownRevisions: the revisions of this
// replica's own commits and of the notifications the listener received
// (their payload carries them, see notification), so that a reader woken
// by Watch need not read the counter back. It knows nothing before the
// listener started, nor after a notification of an older podid's (whose
// payload has no IAM revision) until this replica next commits.
func (s *Store) KnownRevisions() (rev, iamRev int64, ok bool) {
	return s.known.get()
}

// known holds the newest revision and IAM revision known to be committed.
type known struct {
	mu       sync.Mutex
	rev, iam int64
	ok       bool
}

func (k *known) get() (rev, iam int64, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rev, k.iam, k.ok
}

// learn records that revisions up to rev are committed and that iam was
// the IAM revision as of rev (read under the counter lock, or after it);
// both only ever grow. Learning the newest revision makes what is known
// whole again (see forget).
func (k *known) learn(rev, iam int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rev >= k.rev {
		k.ok = true
	}
	k.rev, k.iam = max(k.rev, rev), max(k.iam, iam)
}

// forget records that revision rev is committed with an unknown IAM
// revision: until a learn of rev or a later one, readers read the
// counter.
func (k *known) forget(rev int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if rev > k.rev {
		k.rev, k.ok = rev, false
	}
}

// notification is a commit's NOTIFY payload: its last revision and the IAM
// revision, "rev,iam" in decimal. (Before, it was the revision alone.)
func notification(rev, iam int64) string {
	b := strconv.AppendInt(make([]byte, 0, 40), rev, 10)
	b = append(b, ',')
	return string(strconv.AppendInt(b, iam, 10))
}

// parseNotification reads a notification's payload; iamOK is false for
// an older podid's (the revision alone), ok false for one that is neither.
func parseNotification(p string) (rev, iam int64, iamOK, ok bool) {
	r, i, hasIAM := strings.Cut(p, ",")
	rev, err := strconv.ParseInt(r, 10, 64)
	if err != nil {
		return 0, 0, false, false
	}
	if !hasIAM {
		return rev, 0, false, true
	}
	iam, err = strconv.ParseInt(i, 10, 64)
	return rev, iam, err == nil, err == nil
}

// startListener starts the listener if it is not running. The first
// connection attempt happens here, so a database that cannot be reached is
// reported to the first Watch caller rather than retried silently, and a
// write committed after Watch returns is always signalled.
func (s *Store) startListener(ctx context.Context) error {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	if s.listening {
		return nil
	}
	if s.isClosed() {
		return errClosed
	}
	if !s.notifications {
		return s.startPolling(ctx)
	}
	conn, err := s.listen(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close(context.Background())
		return errClosed
	}
	s.listening = true
	s.bg.Go(func() { s.listenLoop(conn) })
	return nil
}

// listen opens a dedicated connection (not from the pool: it stays busy
// waiting) and LISTENs on the store's channel.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, listenConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connecting the listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("listening on %s: %w", s.channel, err)
	}
	// Listening: every later commit is notified, so from here on the
	// notifications keep what this read knows current. (On the pool:
	// the listener's session shows its LISTEN in pg_stat_activity.)
	if _, err := s.pollRevisions(ctx); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// listenLoop waits for notifications and signals watchers until the store
// closes, reconnecting with bounded backoff when the connection breaks.
func (s *Store) listenLoop(conn *pgx.Conn) {
	ctx, cancel := s.bg.Context()
	defer cancel()
	backoff := listenBackoffMin
	for {
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			backoff = listenBackoffMin
			// A commit of this replica's was signalled at once
			// (signalled), and so, in effect, was every revision
			// below it: the counter lock orders commits by
			// revision, so a watcher reading after that signal
			// sees them all. Waking the watchers again for one of
			// those would only have them reread the feed.
			rev, iam, iamOK, ok := parseNotification(n.Payload)
			switch {
			case ok && iamOK:
				s.known.learn(rev, iam)
			case ok:
				s.known.forget(rev)
			}
			// So is the commit the writer is reading COMMIT's
			// answer of: the counter lock leaves no other commit
			// the same last revision while it is in flight, and it
			// signals once it has the answer (an earlier notice
			// here had readers reread the feed for a fifth of the
			// batches of podid bench's Update).
			if ok && (rev <= s.localRev.Load() || rev == s.committing.Load()) {
				continue
			}
			// Another replica's commit (or one this replica cannot
			// read the revision of): readers woken for it read the
			// feed, not this replica's log.
			s.log.Elsewhere(rev)
			s.notifyLocal()
		}
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		for {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, listenBackoffMax)
			var err error
			if conn, err = s.listen(ctx); err == nil {
				break
			}
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return
			}
		}
		// Notifications sent while we were away are lost: let every
		// watcher reread the feed.
		s.log.Elsewhere(0)
		s.notifyLocal()
	}
}

// pollInterval is how often Watch reads the revision counter on a database
// without LISTEN/NOTIFY.
const pollInterval = 100 * time.Millisecond

// startPolling starts the fallback listener: a goroutine that reads the
// revision counter every pollInterval and signals watchers when it moved.
// The first read happens here, so later writes are seen as changes.
func (s *Store) startPolling(ctx context.Context) error {
	rev, err := s.pollRevisions(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.listening = true
	s.bg.Go(func() { s.pollLoop(rev) })
	return nil
}

func (s *Store) pollLoop(last int64) {
	ctx, cancel := s.bg.Context()
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// An error (the database away) is retried at the next tick.
		if rev, err := s.pollRevisions(ctx); err == nil && rev != last {
			last = rev
			if rev > s.localRev.Load() {
				s.log.Elsewhere(rev)
			}
			s.notifyLocal()
		}
	}
}

// pollRevisions reads the revision and the IAM revision into what the
// store knows (KnownRevisions) and returns the revision.
func (s *Store) pollRevisions(ctx context.Context) (int64, error) {
	var rev, iam int64
	if err := s.pool.QueryRow(ctx, "SELECT revision, iam_revision FROM revision_counter WHERE id = 1").Scan(&rev, &iam); err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	s.known.learn(rev, iam)
	return rev, nil
}
