package store

import (
	"context"
	"errors"
	"time"
)

// Audit is the storage contract of the audit trail: events appended in
// batches, looked up newest first by one attribute and a time range, and
// pruned by age and count. Events are not part of the revision order (an
// append takes no revision and signals no watcher); on a shared database
// every replica's events are visible to every replica once appended.
type Audit interface {
	// AppendEvents stores events (IDs unique; an ID already stored is
	// skipped, so a retried batch stores each event once). It keeps no
	// reference to the events' Record bytes once it returns: the audit
	// recorder writes other records in them next.
	AppendEvents(ctx context.Context, events []Event) error
	// LookupEvents returns up to q.Limit events matching q, newest first
	// (by Time, then ID), and the cursor to pass as q.After for the next
	// page ("" when there is no more).
	LookupEvents(ctx context.Context, q EventQuery) (events []Event, next string, err error)
	// PruneEvents deletes the events older than before and all but the
	// newest keep (keep <= 0: no count bound), in bounded batches so no
	// transaction holds the database long, and returns how many it
	// deleted.
	PruneEvents(ctx context.Context, before time.Time, keep int) (int, error)
}

// Event is one audit event as stored: the columns a lookup filters on and
// the whole record (CloudTrail's event JSON), which the store keeps as
// given.
type Event struct {
	ID          string
	Time        time.Time
	Name        string // eventName
	Source      string // eventSource
	ReadOnly    bool
	Username    string
	AccessKeyID string
	Resources   []EventResource
	Record      []byte // the CloudTrail event, JSON
}

// EventResource is a resource an event names.
type EventResource struct {
	Type string // e.g. AWS::EKS::Cluster
	Name string // its ARN or name
}

// The attributes an EventQuery filters on (CloudTrail's LookupAttribute
// keys).
const (
	EventAttrEventID      = "EventId"
	EventAttrEventName    = "EventName"
	EventAttrReadOnly     = "ReadOnly"
	EventAttrUsername     = "Username"
	EventAttrResourceType = "ResourceType"
	EventAttrResourceName = "ResourceName"
	EventAttrEventSource  = "EventSource"
	EventAttrAccessKeyID  = "AccessKeyId"
)

// EventQuery selects events: at most one attribute equal to Value, Time
// in [Start, End] (zero: unbounded), Limit per page (1..1000), and After,
// a cursor LookupEvents returned.
type EventQuery struct {
	Attribute string
	Value     string
	Start     time.Time
	End       time.Time
	Limit     int
	After     string
}

// ErrBadCursor is an EventQuery.After that LookupEvents did not return, or
// an EventQuery the store cannot run (an unknown attribute, a bad limit).
var ErrBadCursor = errors.New("invalid event query")
