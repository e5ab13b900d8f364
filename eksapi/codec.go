package eksapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// isoLayout is ISO 8601 / RFC 3339 in UTC with up to millisecond precision,
// the timestamp form of the AWS XML and query protocols
// (2023-11-24T21:52:14.922Z).
const isoLayout = "2006-01-02T15:04:05.999Z"

// formatISO writes t in the XML and query timestamp form.
func formatISO(t Time) string { return t.UTC().Format(isoLayout) }

// parseISO reads an RFC 3339 timestamp, keeping millisecond precision.
func parseISO(s string) (Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return Time{}, fmt.Errorf("timestamp %q is not ISO 8601: %w", s, err)
	}
	return NewTime(t), nil
}

// sortedKeys returns m's keys in order, so every encoding is deterministic.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// queryName turns a JSON member name into its query and XML element name
// (clusterName → ClusterName).
func queryName(jsonName string) string {
	if jsonName == "" {
		return ""
	}
	return strings.ToUpper(jsonName[:1]) + jsonName[1:]
}
