package policy

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike // ArnEquals and ArnLike: both match each ARN component with wildcards
	opNull
)

// operators maps an operator name (lower-case) to its kind and whether it
// is the negation of that kind.
var operators = map[string]struct {
	kind   opKind
	negate bool
}{
	"stringequals":              {opStringEquals, false},
	"stringnotequals":           {opStringEquals, true},
	"stringequalsignorecase":    {opStringEqualsIgnoreCase, false},
	"stringnotequalsignorecase": {opStringEqualsIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"numericequals":             {opNumericEquals, false},
	"numericnotequals":          {opNumericEquals, true},
	"numericlessthan":           {opNumericLessThan, false},
	"numericlessthanequals":     {opNumericLessThanEquals, false},
	"numericgreaterthan":        {opNumericGreaterThan, false},
	"numericgreaterthanequals":  {opNumericGreaterThanEquals, false},
	"dateequals":                {opDateEquals, false},
	"datenotequals":             {opDateEquals, true},
	"datelessthan":              {opDateLessThan, false},
	"datelessthanequals":        {opDateLessThanEquals, false},
	"dategreaterthan":           {opDateGreaterThan, false},
	"dategreaterthanequals":     {opDateGreaterThanEquals, false},
	"bool":                      {opBool, false},
	"binaryequals":              {opBinaryEquals, false},
	"ipaddress":                 {opIPAddress, false},
	"notipaddress":              {opIPAddress, true},
	"arnequals":                 {opArnLike, false},
	"arnlike":                   {opArnLike, false},
	"arnnotequals":              {opArnLike, true},
	"arnnotlike":                {opArnLike, true},
	"null":                      {opNull, false},
}

type setKind uint8

const (
	setSingle setKind = iota
	setAnyValue
	setAllValues
)

// condition is one key under one operator: {"StringEquals": {"KEY": [VALUES]}}.
type condition struct {
	kind     opKind
	negate   bool
	ifExists bool
	set      setKind
	key      string
	values   []condValue
}

// condValue is a policy value, pre-parsed for its operator.
type condValue struct {
	t      template
	g      glob    // StringLike without variables
	arn    [6]glob // ArnLike without variables
	arnOK  bool    // arn is set
	num    float64 // Numeric*
	date   time.Time
	prefix netip.Prefix
	valid  bool // num, date or prefix parsed
}

// decodeConditions reads a Condition element: operator → key → value or
// list of values (strings, numbers or booleans).
func decodeConditions(raw json.RawMessage, withVars bool) ([]condition, error) {
	var ops map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil {
		return nil, malformed(MsgSyntax)
	}
	names := make([]string, 0, len(ops))
	for name := range ops {
		names = append(names, name)
	}
	sort.Strings(names) // a stable order, for stable Results
	var out []condition
	for _, name := range names {
		keys := ops[name]
		base, set := name, setSingle
		if rest, ok := cutPrefixFold(base, "ForAnyValue:"); ok {
			base, set = rest, setAnyValue
		} else if rest, ok := cutPrefixFold(base, "ForAllValues:"); ok {
			base, set = rest, setAllValues
		}
		lower := strings.ToLower(base)
		ifExists := false
		if strings.HasSuffix(lower, "ifexists") {
			lower, ifExists = strings.TrimSuffix(lower, "ifexists"), true
		}
		op, ok := operators[lower]
		if !ok {
			if len(keys) == 0 {
				continue // an empty block of an unknown operator is ignored
			}
			return nil, malformed(MsgSyntax)
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			vals, ok := scalarOrList(keys[k])
			if !ok {
				return nil, malformed(MsgSyntax)
			}
			c := condition{kind: op.kind, negate: op.negate, ifExists: ifExists, set: set, key: k}
			for _, v := range vals {
				cv, err := compileValue(op.kind, v, withVars)
				if err != nil {
					return nil, err
				}
				c.values = append(c.values, cv)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// scalarOrList reads a condition value: a string, number or boolean, or a
// list of them.
func scalarOrList(raw json.RawMessage) ([]string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, false
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok := scalar(it)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	s, ok := scalar(raw)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	case 't', 'f':
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return "", false
		}
		return strconv.FormatBool(b), true
	case '[', '{', 'n':
		return "", false
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return n.String(), true
}

func compileValue(kind opKind, v string, withVars bool) (condValue, error) {
	cv := condValue{t: parseTemplate(v, withVars)}
	switch kind {
	case opStringLike:
		if !cv.t.hasVars() {
			cv.g = cv.t.glob(false)
		}
	case opArnLike:
		if !cv.t.hasVars() {
			cv.arn, cv.arnOK = compileARN(v)
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, err := strconv.ParseFloat(v, 64)
		cv.num, cv.valid = n, err == nil
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		d, ok := parseDate(v)
		if !ok {
			return cv, malformed(MsgLegacyParsing) // AWS refuses unparseable dates at legacy parsing
		}
		cv.date, cv.valid = d, true
	case opIPAddress:
		p, ok := parseIPOrPrefix(v)
		cv.prefix, cv.valid = p, ok
	}
	return cv, nil
}

// compileARN splits an ARN pattern into its six components ("*" alone
// stands for every component).
func compileARN(s string) ([6]glob, bool) {
	var g [6]glob
	if s == "*" {
		for i := range g {
			g[i] = glob{globStar}
		}
		return g, true
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 {
		return g, false
	}
	for i, p := range parts {
		g[i] = glob(nil).appendWild(p)
	}
	return g, true
}

func matchARN(g [6]glob, s string) bool {
	for i := range 5 {
		j := strings.IndexByte(s, ':')
		if j < 0 {
			return false
		}
		if !g[i].match(s[:j], false) {
			return false
		}
		s = s[j+1:]
	}
	return g[5].match(s, false)
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDate reads an ISO 8601 date or date-time, or epoch seconds.
func parseDate(s string) (time.Time, bool) {
	if s != "" && !strings.ContainsAny(s, "-Tt:") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, false
		}
		return time.Unix(n, 0).UTC(), true
	}
	u := strings.ToUpper(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, u); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseIPOrPrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval applies the condition to the request context (IAM user guide,
// "Condition operators" and "Multivalued context keys"):
//   - a missing key: false, except ...IfExists and ForAllValues (true),
//     negated operators (true) and Null;
//   - several policy values: OR; several context values without a set
//     operator: any may match (none for a negated operator);
//   - ForAnyValue: some context value matches; ForAllValues: every one does.
func (c *condition) eval(ctx Keys) bool {
	vals, present := get(ctx, c.key)
	present = present && len(vals) > 0
	if c.kind == opNull {
		for _, v := range c.values {
			if strings.EqualFold(v.t.raw, "true") == !present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists, c.set == setAllValues:
			return true
		case c.set == setAnyValue:
			return false
		}
		return c.negate
	}
	switch c.set {
	case setAnyValue:
		for _, v := range vals {
			if c.matchAny(v, ctx) != c.negate {
				return true
			}
		}
		return false
	case setAllValues:
		for _, v := range vals {
			if c.matchAny(v, ctx) == c.negate {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.matchAny(v, ctx) {
			return !c.negate
		}
	}
	return c.negate
}

// matchAny reports whether the context value v matches one of the policy
// values under the (positive) operator.
func (c *condition) matchAny(v string, ctx Keys) bool {
	switch c.kind {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for i := range c.values {
			if pv := &c.values[i]; pv.valid && compareNum(c.kind, n, pv.num) {
				return true
			}
		}
		return false
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		d, ok := parseDate(v)
		if !ok {
			return false
		}
		for i := range c.values {
			if pv := &c.values[i]; pv.valid && compareDate(c.kind, d, pv.date) {
				return true
			}
		}
		return false
	case opIPAddress:
		p, ok := parseIPOrPrefix(v)
		if !ok {
			return false
		}
		for i := range c.values {
			if pv := &c.values[i]; pv.valid && pv.prefix.Addr().Is4() == p.Addr().Is4() && pv.prefix.Contains(p.Addr()) {
				return true
			}
		}
		return false
	}
	for i := range c.values {
		if c.matchString(&c.values[i], v, ctx) {
			return true
		}
	}
	return false
}

func (c *condition) matchString(pv *condValue, v string, ctx Keys) bool {
	switch c.kind {
	case opStringLike:
		if pv.g != nil || !pv.t.hasVars() {
			return pv.g.match(v, false)
		}
		g, ok := pv.t.expandGlob(ctx, false)
		return ok && g.match(v, false)
	case opArnLike:
		if pv.arnOK {
			return matchARN(pv.arn, v)
		}
		if !pv.t.hasVars() {
			return false
		}
		s, ok := pv.t.expand(ctx)
		if !ok {
			return false
		}
		g, ok := compileARN(s)
		return ok && matchARN(g, v)
	case opBool:
		return strings.EqualFold(pv.t.raw, v)
	case opBinaryEquals:
		return pv.t.raw == v
	}
	s, ok := pv.t.expand(ctx)
	if !ok {
		return false
	}
	if c.kind == opStringEqualsIgnoreCase {
		return strings.EqualFold(s, v)
	}
	return s == v
}

func compareNum(k opKind, a, b float64) bool {
	switch k {
	case opNumericEquals:
		return a == b
	case opNumericLessThan:
		return a < b
	case opNumericLessThanEquals:
		return a <= b
	case opNumericGreaterThan:
		return a > b
	default:
		return a >= b
	}
}

func compareDate(k opKind, a, b time.Time) bool {
	switch k {
	case opDateEquals:
		return a.Equal(b)
	case opDateLessThan:
		return a.Before(b)
	case opDateLessThanEquals:
		return !a.After(b)
	case opDateGreaterThan:
		return a.After(b)
	default:
		return !a.Before(b)
	}
}
