// Package cloudtrail serves podid's audit trail as CloudTrail's
// LookupEvents (awsJson1.1: POST / with X-Amz-Target
// com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents,
// SigV4 service "cloudtrail"), so `aws cloudtrail lookup-events`, boto3
// and the SDKs read it: one lookup attribute, a time range, pages of up to
// 50 events newest first, each with its record as the CloudTrailEvent
// JSON string, and CloudTrail's errors.
package cloudtrail

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Targets are LookupEvents' X-Amz-Target values: botocore's (the
// service's full shape ID) and aws-sdk-go-v2's (without the namespace).
var Targets = []string{
	"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
	"CloudTrail_20131101.LookupEvents",
}

// Family is CloudTrail's handler family (JSON 1.1 errors, written as
// restJson1's are).
var Family = &httpx.Family{Name: "cloudtrail", Protocol: httpx.RestJSON, MaxBody: 64 << 10}

// CloudTrail's error codes.
const (
	CodeInvalidLookupAttributes = "InvalidLookupAttributesException"
	CodeInvalidTimeRange        = "InvalidTimeRangeException"
	CodeInvalidNextToken        = "InvalidNextTokenException"
	CodeInvalidMaxResults       = "InvalidMaxResultsException"
	CodeInvalidEventCategory    = "InvalidEventCategoryException"
)

// MaxResults is LookupEvents' page size limit (and default).
const MaxResults = 50

// LookupAttribute is one of LookupEvents' filters.
type LookupAttribute struct {
	AttributeKey   string
	AttributeValue string
}

// Input is LookupEvents' request.
type Input struct {
	LookupAttributes []LookupAttribute
	StartTime        *float64 // epoch seconds
	EndTime          *float64
	EventCategory    *string
	MaxResults       *int
	NextToken        *string
}

// Event is one event of LookupEvents' response.
type Event struct {
	EventId         string
	EventName       string
	ReadOnly        string // "true" or "false", as CloudTrail sends it
	AccessKeyId     string `json:",omitempty"`
	EventTime       float64
	EventSource     string
	Username        string     `json:",omitempty"`
	Resources       []Resource `json:",omitempty"`
	CloudTrailEvent string
}

// Resource is a resource an Event names.
type Resource struct {
	ResourceType string
	ResourceName string
}

// Output is LookupEvents' response.
type Output struct {
	Events    []Event
	NextToken string `json:",omitempty"`
}

// Handler serves LookupEvents from a store.
type Handler struct {
	Store      store.Audit
	Authorizer authz.Authorizer
}

// Mount mounts LookupEvents on host.
func (h *Handler) Mount(host *httpx.Host) error {
	fn := httpx.JSON(h.lookupEvents)
	for _, t := range Targets {
		if err := host.HandleTarget(t, Family, "LookupEvents", fn); err != nil {
			return err
		}
	}
	return nil
}

var attributes = map[string]bool{
	store.EventAttrEventID: true, store.EventAttrEventName: true, store.EventAttrReadOnly: true,
	store.EventAttrUsername: true, store.EventAttrResourceType: true, store.EventAttrResourceName: true,
	store.EventAttrEventSource: true, store.EventAttrAccessKeyID: true,
}

func invalid(code, format string, args ...any) *eksapi.Error {
	return &eksapi.Error{Code: code, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func (h *Handler) lookupEvents(w http.ResponseWriter, r *http.Request, in *Input) (*Output, error) {
	if err := authz.Check(r.Context(), h.Authorizer, "cloudtrail:LookupEvents", "*", nil); err != nil {
		return nil, err
	}
	q, err := query(in)
	if err != nil {
		return nil, err
	}
	events, next, err := h.Store.LookupEvents(r.Context(), q)
	if err != nil {
		return nil, err
	}
	out := &Output{Events: make([]Event, 0, len(events))}
	for _, e := range events {
		ev := Event{
			EventId: e.ID, EventName: e.Name, ReadOnly: strconv.FormatBool(e.ReadOnly), AccessKeyId: e.AccessKeyID,
			EventTime: float64(e.Time.UnixMilli()) / 1000, EventSource: e.Source, Username: e.Username,
			CloudTrailEvent: string(e.Record),
		}
		for _, res := range e.Resources {
			ev.Resources = append(ev.Resources, Resource{ResourceType: res.Type, ResourceName: res.Name})
		}
		out.Events = append(out.Events, ev)
	}
	if next != "" {
		out.NextToken = encodeToken(next, q)
	}
	return out, nil
}

// query checks in as CloudTrail does and returns the store's query.
func query(in *Input) (store.EventQuery, error) {
	q := store.EventQuery{Limit: MaxResults}
	switch n := len(in.LookupAttributes); {
	case n > 1:
		return q, invalid(CodeInvalidLookupAttributes, "You cannot specify more than one lookup attribute.")
	case n == 1:
		a := in.LookupAttributes[0]
		if !attributes[a.AttributeKey] {
			return q, invalid(CodeInvalidLookupAttributes, "%q is not a valid lookup attribute key.", clip(a.AttributeKey))
		}
		if a.AttributeValue == "" || len(a.AttributeValue) > 2000 {
			return q, invalid(CodeInvalidLookupAttributes, "The lookup attribute value must be between 1 and 2000 characters long.")
		}
		if a.AttributeKey == store.EventAttrReadOnly && a.AttributeValue != "true" && a.AttributeValue != "false" {
			return q, invalid(CodeInvalidLookupAttributes, "The ReadOnly lookup attribute value must be true or false.")
		}
		q.Attribute, q.Value = a.AttributeKey, a.AttributeValue
	}
	if in.EventCategory != nil && *in.EventCategory != "insight" {
		return q, invalid(CodeInvalidEventCategory, "The event category %q is not valid.", clip(*in.EventCategory))
	}
	var err error
	if q.Start, err = epoch(in.StartTime); err != nil {
		return q, err
	}
	if q.End, err = epoch(in.EndTime); err != nil {
		return q, err
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return q, invalid(CodeInvalidTimeRange, "Start time must be before end time.")
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > MaxResults {
			return q, invalid(CodeInvalidMaxResults, "MaxResults must be between 1 and %d.", MaxResults)
		}
		q.Limit = *in.MaxResults
	}
	if in.NextToken != nil && *in.NextToken != "" {
		after, ok := decodeToken(*in.NextToken, q)
		if !ok {
			return q, invalid(CodeInvalidNextToken, "Invalid NextToken. Use the NextToken of the previous response, with the same parameters.")
		}
		q.After = after
	}
	return q, nil
}

func epoch(v *float64) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	if math.IsNaN(*v) || *v < 0 || *v > 32503680000 { // year 3000
		return time.Time{}, invalid(CodeInvalidTimeRange, "The time range is outside the range of possible values.")
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// A NextToken is the store's cursor bound to the query's filters, so a
// token used with other parameters is refused, as CloudTrail refuses it.
type token struct {
	Cursor string `json:"c"`
	Query  string `json:"q"`
}

func queryKey(q store.EventQuery) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(q.Attribute, "\x00", q.Value, "\x00", q.Start.UnixNano(), "\x00", q.End.UnixNano())))
	return hex.EncodeToString(sum[:8])
}

func encodeToken(cursor string, q store.EventQuery) string {
	b, _ := json.Marshal(token{Cursor: cursor, Query: queryKey(q)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string, q store.EventQuery) (string, bool) {
	if len(s) > 4096 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	var t token
	if json.Unmarshal(b, &t) != nil || t.Cursor == "" || t.Query != queryKey(q) {
		return "", false
	}
	return t.Cursor, true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
