package audit

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
)

// An event's record is written here rather than by json.Marshal: the
// same bytes (the tests hold it to json.Marshal's and to the recorder's
// former path, and fuzz both), without reflection, without copying the
// maps Scrub would copy, and without decoding a request's JSON body into
// a map only to encode it again (bodyParams transcodes it).

// appendJSON appends json.Marshal's encoding of rec to b, with each of
// its three maps that is not nil replaced by Scrub's copy, and with
// requestJSON (already scrubbed) in place of RequestParameters when it is
// set. The error is json.Marshal's, for a value only it can encode and
// refuses.
func (rec *Record) appendJSON(b []byte) ([]byte, error) {
	var err error
	o := eksapi.JSONObject{B: append(b, '{')}
	o.Str("eventVersion", rec.EventVersion, false)
	o.Key("userIdentity")
	o.B = rec.UserIdentity.appendJSON(o.B)
	o.Str("eventTime", rec.EventTime, false)
	o.Str("eventSource", rec.EventSource, false)
	o.Str("eventName", rec.EventName, false)
	o.Str("awsRegion", rec.AWSRegion, false)
	o.Str("sourceIPAddress", rec.SourceIPAddress, false)
	o.Str("userAgent", rec.UserAgent, false)
	o.Str("errorCode", rec.ErrorCode, true)
	o.Str("errorMessage", rec.ErrorMessage, true)
	o.Key("requestParameters")
	if rec.requestJSON != nil {
		o.B = append(o.B, rec.requestJSON...)
	} else if o.B, err = appendMember(o.B, rec.RequestParameters); err != nil {
		return nil, err
	}
	o.Key("responseElements")
	if o.B, err = appendMember(o.B, rec.ResponseElements); err != nil {
		return nil, err
	}
	if len(rec.AdditionalEventData) > 0 {
		o.Key("additionalEventData")
		if o.B, err = appendScrubbedMap(o.B, rec.AdditionalEventData); err != nil {
			return nil, err
		}
	}
	o.Str("requestID", rec.RequestID, false)
	o.Str("eventID", rec.EventID, false)
	o.Key("readOnly")
	o.B = strconv.AppendBool(o.B, rec.ReadOnly)
	if len(rec.Resources) > 0 {
		o.Key("resources")
		o.B = append(o.B, '[')
		for i, res := range rec.Resources {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			r := eksapi.JSONObject{B: append(o.B, '{')}
			r.Str("accountId", res.AccountID, true)
			r.Str("type", res.Type, false)
			r.Str("ARN", res.ARN, false)
			o.B = append(r.B, '}')
		}
		o.B = append(o.B, ']')
	}
	o.Str("eventType", rec.EventType, false)
	o.Key("managementEvent")
	o.B = strconv.AppendBool(o.B, rec.ManagementEvent)
	o.Str("recipientAccountId", rec.RecipientAccountID, false)
	o.Str("eventCategory", rec.EventCategory, false)
	return append(o.B, '}'), nil
}

func (u *UserIdentity) appendJSON(b []byte) []byte {
	o := eksapi.JSONObject{B: append(b, '{')}
	o.Str("type", u.Type, false)
	o.Str("principalId", u.PrincipalID, true)
	o.Str("arn", u.ARN, true)
	o.Str("accountId", u.AccountID, true)
	o.Str("accessKeyId", u.AccessKeyID, true)
	o.Str("userName", u.UserName, true)
	if sc := u.SessionContext; sc != nil {
		o.Key("sessionContext")
		o.B = append(o.B, `{"sessionIssuer":`...)
		s := eksapi.JSONObject{B: append(o.B, '{')}
		s.Str("type", sc.SessionIssuer.Type, false)
		s.Str("arn", sc.SessionIssuer.ARN, false)
		s.Str("userName", sc.SessionIssuer.UserName, false)
		o.B = append(s.B, '}', '}')
	}
	return append(o.B, '}')
}

// hiddenJSON is Hidden as a JSON string.
const hiddenJSON = `"` + Hidden + `"`

// appendScrubbed appends json.Marshal(Scrub(v)) to b.
func appendScrubbed(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		return appendScrubbedMap(b, x)
	case []any:
		// Scrub makes a nil slice an empty one.
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendScrubbed(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case string:
		return eksapi.AppendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case nil:
		return append(b, "null"...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return appendFloat(b, x), nil
		}
	}
	// Anything else Scrub leaves as it is: json.Marshal's encoding.
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// appendMember appends one of a Record's maps: null when nil (json.Marshal
// writes it so), else json.Marshal(Scrub(m)).
func appendMember(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	return appendScrubbedMap(b, m)
}

// appendScrubbedMap appends json.Marshal(Scrub(m)) to b: keys sorted, a
// secret member's value Hidden; a nil m is {}, as Scrub makes it.
func appendScrubbedMap(b []byte, m map[string]any) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = eksapi.AppendJSONString(b, k)
		b = append(b, ':')
		if secretKey(k) {
			b = append(b, hiddenJSON...)
			continue
		}
		var err error
		if b, err = appendScrubbed(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendFloat appends a finite float64 as encoding/json does: 'f' format
// but for very small and very large magnitudes, whose exponent it writes
// without a leading zero (1e-07 as 1e-7).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// A param is one member of an event's requestParameters before it is
// written: a string (a path value, a form value) or a JSON value of the
// request's body, as it arrived.
type param struct {
	key string
	str string
	raw []byte // when not nil, the JSON value (a plainValue)
}

// appendParams appends the object of ps as json.Marshal(Scrub(m)) writes
// it, m being the map the params made in order (a later param of a key
// replacing an earlier one). ps is sorted in place.
func appendParams(b []byte, ps []param) []byte {
	slices.SortStableFunc(ps, func(x, y param) int { return strings.Compare(x.key, y.key) })
	b = append(b, '{')
	first := true
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].key == p.key {
			continue // replaced by a later one
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = eksapi.AppendJSONString(b, p.key)
		b = append(b, ':')
		switch {
		case secretKey(p.key):
			b = append(b, hiddenJSON...)
		case p.raw != nil:
			b = appendPlain(b, p.raw)
		default:
			b = eksapi.AppendJSONString(b, p.str)
		}
	}
	return append(b, '}')
}

// bodyParams appends the members of a JSON object body to ps, each value
// as it arrived, when decoding the body into a map and encoding it again
// would give back exactly those bytes (scrubbing aside, which
// appendParams does): every key and string plain (printable ASCII that
// json.Marshal does not escape, no escape sequence), every number an
// integer of at most 15 digits, no white space inside a value but between
// its tokens. ok is false for any other body (the caller decodes it); a
// body that is JSON null adds nothing.
func bodyParams(ps []param, body []byte) (_ []param, ok bool) {
	i := httpx.SkipJSONSpace(body, 0)
	if i+4 <= len(body) && string(body[i:i+4]) == "null" {
		return ps, httpx.SkipJSONSpace(body, i+4) == len(body)
	}
	if i == len(body) || body[i] != '{' {
		return ps, false
	}
	n := len(ps)
	i = httpx.SkipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return ps, httpx.SkipJSONSpace(body, i+1) == len(body)
	}
	for {
		key, next, ok := plainString(body, i)
		if !ok {
			return ps[:n], false
		}
		i = httpx.SkipJSONSpace(body, next)
		if i == len(body) || body[i] != ':' {
			return ps[:n], false
		}
		i = httpx.SkipJSONSpace(body, i+1)
		end, ok := plainValue(body, i, 0)
		if !ok {
			return ps[:n], false
		}
		ps = append(ps, param{key: string(key[1 : len(key)-1]), raw: body[i:end]})
		i = httpx.SkipJSONSpace(body, end)
		if i == len(body) {
			return ps[:n], false
		}
		if body[i] == '}' {
			if httpx.SkipJSONSpace(body, i+1) != len(body) {
				return ps[:n], false
			}
			return ps, true
		}
		if body[i] != ',' {
			return ps[:n], false
		}
		i = httpx.SkipJSONSpace(body, i+1)
	}
}

// maxPlainDepth bounds the nesting plainValue follows (deeper values take
// the general path).
const maxPlainDepth = 32

// plainValue returns the end of the plain JSON value at body[i:]: a
// plain string, a short integer, true, false, null, or an object or array
// of plain values. ok is false when the value is anything else, or is
// not valid JSON.
func plainValue(body []byte, i, depth int) (end int, ok bool) {
	if i >= len(body) {
		return 0, false
	}
	switch c := body[i]; {
	case c == '"':
		_, next, ok := plainString(body, i)
		return next, ok
	case c == '-' || c >= '0' && c <= '9':
		return plainInt(body, i)
	case c == 't':
		return literal(body, i, "true")
	case c == 'f':
		return literal(body, i, "false")
	case c == 'n':
		return literal(body, i, "null")
	case c == '{' || c == '[':
		if depth == maxPlainDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = httpx.SkipJSONSpace(body, i+1)
		if i < len(body) && body[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				_, next, ok := plainString(body, i)
				if !ok {
					return 0, false
				}
				i = httpx.SkipJSONSpace(body, next)
				if i == len(body) || body[i] != ':' {
					return 0, false
				}
				i = httpx.SkipJSONSpace(body, i+1)
			}
			end, ok := plainValue(body, i, depth+1)
			if !ok {
				return 0, false
			}
			i = httpx.SkipJSONSpace(body, end)
			if i == len(body) {
				return 0, false
			}
			if body[i] == closer {
				return i + 1, true
			}
			if body[i] != ',' {
				return 0, false
			}
			i = httpx.SkipJSONSpace(body, i+1)
		}
	}
	return 0, false
}

// appendPlain appends the plain value raw (plainValue's) as json.Marshal
// writes what json.Unmarshal decodes it to, scrubbed: objects' members
// sorted by key (the last of a repeated key kept), secrets Hidden, no
// white space.
func appendPlain(b []byte, raw []byte) []byte {
	switch raw[0] {
	case '{', '[':
	default:
		return append(b, raw...) // a plain scalar is written as it is
	}
	if raw[0] == '[' {
		b = append(b, '[')
		i := httpx.SkipJSONSpace(raw, 1)
		for n := 0; raw[i] != ']'; n++ {
			if n > 0 {
				b = append(b, ',')
			}
			end, _ := plainValue(raw, i, 0)
			b = appendPlain(b, raw[i:end])
			i = httpx.SkipJSONSpace(raw, end)
			if raw[i] == ',' {
				i = httpx.SkipJSONSpace(raw, i+1)
			}
		}
		return append(b, ']')
	}
	var small [8]param
	ps := small[:0]
	i := httpx.SkipJSONSpace(raw, 1)
	for raw[i] != '}' {
		key, next, _ := plainString(raw, i)
		i = httpx.SkipJSONSpace(raw, httpx.SkipJSONSpace(raw, next)+1) // past ':'
		end, _ := plainValue(raw, i, 0)
		ps = append(ps, param{key: string(key[1 : len(key)-1]), raw: raw[i:end]})
		i = httpx.SkipJSONSpace(raw, end)
		if raw[i] == ',' {
			i = httpx.SkipJSONSpace(raw, i+1)
		}
	}
	return appendParams(b, ps)
}

// plainString reads the JSON string at body[i:] if json.Marshal would
// write its value back as the same bytes: printable ASCII, no escape, none
// of < > & (which it escapes). s is the string with its quotes.
func plainString(body []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i : j+1], j + 1, true
		case c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainInt reads an integer of at most 15 digits at body[i:] (a float64
// holds it exactly, and json.Marshal writes it back the same).
func plainInt(body []byte, i int) (end int, ok bool) {
	j := i
	if body[j] == '-' {
		j++
	}
	start := j
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	digits := j - start
	if digits == 0 || digits > 15 || digits > 1 && body[start] == '0' {
		return 0, false
	}
	if j < len(body) && (body[j] == '.' || body[j] == 'e' || body[j] == 'E') {
		return 0, false
	}
	return j, true
}

func literal(body []byte, i int, lit string) (end int, ok bool) {
	if len(body)-i < len(lit) || string(body[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}
