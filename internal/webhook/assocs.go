package webhook

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Source is where the associations come from: a *Podid.
type Source interface {
	// ServiceAccounts lists the service accounts with an association.
	ServiceAccounts(ctx context.Context) (map[ServiceAccount]bool, error)
	// HasAssociation asks about one service account.
	HasAssociation(ctx context.Context, sa ServiceAccount) (bool, error)
	// Wait returns the revision in effect once it is at least revision,
	// or errWaitTimeout after timeout.
	Wait(ctx context.Context, revision int64, timeout time.Duration) (int64, error)
}

// AssociationsConfig configures an Associations.
type AssociationsConfig struct {
	// Source is podid. Required.
	Source Source
	// PollTimeout is how long one long-poll of podid's wait lasts
	// (default 30s; podid caps it at its own maximum).
	PollTimeout time.Duration
	// CheckTimeout bounds the calls an admission makes to podid (default
	// 2s); past it the cached answer stands.
	CheckTimeout time.Duration
	// MinRelistInterval spaces full listings (default 1s): podid's
	// revision moves on every write to any cluster.
	MinRelistInterval time.Duration
	// MaxBackoff bounds the wait after a failed call to podid (default
	// 30s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
	Metrics    *Metrics
}

// Associations knows which service accounts of the cluster have an
// association. It follows podid: Run long-polls GET /podid/v1/wait for
// the next revision and lists the associations again when it moves. An
// admission asks podid for the revision in effect (one cheap call) and,
// when the cache is older, asks about the pod's service account
// directly; so once podid's wait says a change is in effect, admissions
// see it. When podid cannot be reached the cached answer stands.
type Associations struct {
	cfg AssociationsConfig
	log *slog.Logger

	mu     sync.RWMutex
	set    map[ServiceAccount]bool
	rev    int64 // the revision set reflects at least; -1 before the first listing
	synced chan struct{}
}

// NewAssociations returns an empty cache; Run fills it.
func NewAssociations(cfg AssociationsConfig) *Associations {
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 30 * time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.MinRelistInterval <= 0 {
		cfg.MinRelistInterval = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Associations{cfg: cfg, log: log, rev: -1, synced: make(chan struct{})}
}

// Synced is closed once the first listing is in.
func (a *Associations) Synced() <-chan struct{} { return a.synced }

// Revision is the podid revision the cache reflects (-1 before the
// first listing).
func (a *Associations) Revision() int64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.rev
}

func (a *Associations) cached(sa ServiceAccount) (has bool, rev int64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.set[sa], a.rev
}

// Has reports whether sa has an association. The answer is current as of
// podid's revision in effect: from the cache when it is that recent,
// else from podid directly (also when podid's revision cannot be read).
// With an error, it is the cache's answer (false before the first
// listing), and the error says why it may be stale.
func (a *Associations) Has(ctx context.Context, sa ServiceAccount) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CheckTimeout)
	defer cancel()
	applied, waitErr := a.cfg.Source.Wait(ctx, 0, time.Second)
	has, rev := a.cached(sa)
	if waitErr == nil && applied <= rev {
		a.cfg.Metrics.lookup("cache")
		return has, nil
	}
	found, err := a.cfg.Source.HasAssociation(ctx, sa)
	if err != nil {
		a.cfg.Metrics.lookup("stale")
		return has, errors.Join(err, waitErr)
	}
	a.cfg.Metrics.lookup("podid")
	return found, nil
}

// Run follows podid until ctx is done: it lists the associations, then
// waits for podid's next revision and lists them again. Failures are
// logged and retried with backoff. It returns nil when ctx is done.
func (a *Associations) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	var lastList time.Time
	for ctx.Err() == nil {
		if backoff > 0 && !sleep(ctx, backoff) {
			break
		}
		applied, err := a.cfg.Source.Wait(ctx, a.Revision()+1, a.cfg.PollTimeout)
		if errors.Is(err, errWaitTimeout) {
			backoff = 0
			continue
		}
		if err == nil {
			if !sleep(ctx, time.Until(lastList.Add(a.cfg.MinRelistInterval))) {
				break
			}
			lastList = time.Now()
			err = a.relist(ctx, applied)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			backoff = min(max(2*backoff, 500*time.Millisecond), a.cfg.MaxBackoff)
			a.cfg.Metrics.refresh("error")
			a.log.Warn("webhook: following podid's associations", "err", err, "retry_in", backoff)
			continue
		}
		backoff = 0
		a.cfg.Metrics.refresh("ok")
	}
	return nil
}

// relist replaces the cache with a listing made after revision applied
// was in effect: it reflects at least that revision.
func (a *Associations) relist(ctx context.Context, applied int64) error {
	set, err := a.cfg.Source.ServiceAccounts(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	first := a.rev < 0
	if applied > a.rev {
		a.set, a.rev = set, applied
	}
	a.mu.Unlock()
	a.cfg.Metrics.cached(len(set), applied)
	if first {
		close(a.synced)
		a.log.Info("webhook: associations listed", "service_accounts", len(set), "revision", applied)
	}
	return nil
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
