package eksapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/smithy-go"
)

// member flags name the members an error shape models besides its message.
type member uint8

const (
	mCluster member = 1 << iota
	mNodegroup
	mFargateProfile
	mAddon
	mSubscription
	mValidZones
)

// errorShape is a modeled error shape: its fault and its members.
type errorShape struct {
	server  bool
	members member
}

// modeledShapes are the error shapes of the EKS service model (the Go SDK's
// eks type registry, spec §2.3) and of EKS Auth (spec §6.2). ErrorFromJSON
// and ErrorFromXML decode exactly these into *Error; every other code is an
// *UnknownError, as the SDK makes it a smithy.GenericAPIError.
var modeledShapes = map[string]errorShape{
	CodeAccessDenied:             {},
	CodeBadRequest:               {},
	CodeClient:                   {members: mCluster | mNodegroup | mAddon | mSubscription},
	CodeInvalidParameter:         {members: mCluster | mNodegroup | mFargateProfile | mAddon | mSubscription},
	CodeInvalidRequest:           {members: mCluster | mNodegroup | mAddon | mSubscription},
	CodeInvalidStateException:    {members: mCluster},
	CodeNotFound:                 {},
	CodeResourceInUse:            {members: mCluster | mNodegroup | mAddon},
	CodeResourceLimitExceeded:    {members: mCluster | mNodegroup | mSubscription},
	CodeResourceNotFound:         {members: mCluster | mNodegroup | mFargateProfile | mAddon | mSubscription},
	CodeResourcePropagationDelay: {},
	CodeServer:                   {server: true, members: mCluster | mNodegroup | mAddon | mSubscription},
	CodeServiceUnavailable:       {server: true},
	CodeThrottling:               {members: mCluster},
	CodeUnsupportedAZException:   {members: mCluster | mNodegroup | mValidZones},
	// EKS Auth only.
	CodeInvalidToken:   {},
	CodeExpiredToken:   {},
	CodeInternalServer: {server: true},
}

// Modeled reports whether code names an error shape of EKS or EKS Auth, one
// that ErrorFromJSON decodes into an *Error.
func Modeled(code string) bool {
	_, ok := modeledShapes[code]
	return ok
}

// ErrorCode returns e.Code; with ErrorMessage and ErrorFault it makes *Error a
// smithy.APIError, like the SDK's own error types.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage returns e.Message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault returns the fault as smithy reports it.
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.Fault() == "server" {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// UnknownError is an error response whose code names no modeled shape (the
// seed's unknown-operation error): a code, an optional message and, when
// known, the HTTP status. The Go SDK reports the same responses as
// *smithy.GenericAPIError.
type UnknownError struct {
	Code    string
	Message string
	Status  int // 0 when not known (an XML error document)
}

// Error implements error: "Code: message".
func (e *UnknownError) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ErrorCode returns e.Code.
func (e *UnknownError) ErrorCode() string { return e.Code }

// ErrorMessage returns e.Message.
func (e *UnknownError) ErrorMessage() string { return e.Message }

// ErrorFault is server for a 5xx status, client for a 4xx status and
// unknown otherwise.
func (e *UnknownError) ErrorFault() smithy.ErrorFault {
	switch {
	case e.Status >= 500:
		return smithy.FaultServer
	case e.Status >= 400:
		return smithy.FaultClient
	}
	return smithy.FaultUnknown
}

// codeUnknown is the code of an error response that names none.
const codeUnknown = "UnknownError"

// snapshotLimit bounds the body bytes a DeserializationError keeps.
const snapshotLimit = 1024

// protocolErrorInfo is what smithy-go's restjson1 reads first from every
// error body; encoding/json matches its names case-insensitively.
type protocolErrorInfo struct {
	Type    string `json:"__type"`
	Message string
	Code    any
}

// ErrorFromJSON decodes a restJson1 error response (spec §2.2) the way the Go
// SDK does, returning nil for a 2xx status. The code is the X-Amzn-ErrorType
// header, else the body's __type, else its code member when that is a string;
// it is cut at the first ':' and keeps what follows the first '#'. A modeled
// code (see Modeled) gives an *Error with the response status and the shape's
// members, read by their exact names (message or Message); any other code, or
// none ("UnknownError"), gives an *UnknownError. A body the SDK cannot decode
// gives a *smithy.DeserializationError, as it does in the SDK.
func ErrorFromJSON(status int, header http.Header, body []byte) error {
	if status >= 200 && status < 300 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var info protocolErrorInfo
	if err := dec.Decode(&info); err != nil && err != io.EOF {
		return &smithy.DeserializationError{
			Err:      fmt.Errorf("failed to decode response body, %w", err),
			Snapshot: snapshot(body),
		}
	}
	code := codeUnknown
	if h := header.Get("X-Amzn-ErrorType"); h != "" {
		code = h
	} else if info.Type != "" {
		code = info.Type
	} else if c, ok := info.Code.(string); ok && c != "" {
		code = c
	}
	code = sanitizeCode(code)
	shape, ok := modeledShapes[code]
	if !ok {
		return &UnknownError{Code: code, Message: info.Message, Status: status}
	}
	e := &Error{Code: code, Status: status}
	if err := readMembers(e, shape, body); err != nil {
		return &smithy.DeserializationError{Err: err, Snapshot: snapshot(body)}
	}
	return e
}

// sanitizeCode cuts a wire error code at the first ':' and keeps what follows
// the first '#'.
func sanitizeCode(code string) string {
	code, _, _ = strings.Cut(code, ":")
	if _, after, ok := strings.Cut(code, "#"); ok {
		code = after
	}
	return code
}

func snapshot(body []byte) []byte {
	return bytes.Clone(body[:min(len(body), snapshotLimit)])
}

// readMembers reads the members of a modeled error shape from the first JSON
// value of body as the SDK's typed deserializer does: the value must be an
// object (an empty body, not a blank one, counts as {}); exact member names, "Message"
// accepted for "message", null members absent, unknown members skipped, and
// anything after the first value ignored.
func readMembers(e *Error, shape errorShape, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected '{', got %v", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		dst := e.stringMember(key, shape.members)
		switch {
		case string(raw) == "null":
		case dst != nil:
			if *dst, err = jsonString(raw); err != nil {
				return fmt.Errorf("member %s: %w", key, err)
			}
		case key == "validZones" && shape.members&mValidZones != 0:
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("member validZones: expected a list of strings: %w", err)
			}
			e.ValidZones = make([]string, len(items))
			for i, item := range items {
				if string(item) == "null" {
					continue
				}
				if e.ValidZones[i], err = jsonString(item); err != nil {
					return fmt.Errorf("member validZones: %w", err)
				}
			}
		}
	}
	return nil
}

// jsonString reads a JSON string as the SDK does: without escapes its bytes
// are taken as they are (even invalid UTF-8); with escapes it is unquoted as
// encoding/json unquotes.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", fmt.Errorf("expected string, got %.20s", raw)
	}
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// stringMember returns the field of e that the JSON member key fills, if the
// shape models it.
func (e *Error) stringMember(key string, m member) *string {
	switch {
	case key == "message" || key == "Message":
		return &e.Message
	case key == "clusterName" && m&mCluster != 0:
		return &e.ClusterName
	case key == "nodegroupName" && m&mNodegroup != 0:
		return &e.NodegroupName
	case key == "fargateProfileName" && m&mFargateProfile != 0:
		return &e.FargateProfileName
	case key == "addonName" && m&mAddon != 0:
		return &e.AddonName
	case key == "subscriptionId" && m&mSubscription != 0:
		return &e.SubscriptionID
	}
	return nil
}

// ErrorToJSON returns the restJson1 error body of err: an *Error as it
// marshals, an *UnknownError as {"__type":code,"message":...}, and any other
// error as a ServerException that does not reveal its text.
func ErrorToJSON(err error) []byte {
	var b []byte
	var u *UnknownError
	if errors.As(err, &u) {
		b, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message,omitempty"`
		}{u.Code, u.Message})
		return b
	}
	b, _ = json.Marshal(AsError(err)) // only strings: cannot fail
	return b
}

// AsError returns err as an *Error: the *Error in its chain, an *UnknownError
// turned into an *Error of the same code, or else a ServerException with a
// generic message (the text of an unexpected error is not sent to clients).
// It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var u *UnknownError
	if errors.As(err, &u) {
		e := NewError(u.Code, u.Message)
		if u.Status != 0 {
			e.Status = u.Status
		}
		return e
	}
	return NewError(CodeServer, "An internal error occurred.")
}

// xmlError is the <Error> element of the awsQuery and restXml error forms:
// <ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message>
// …members…</Error><RequestId>…</RequestId></ErrorResponse>.
type xmlError struct {
	XMLName            xml.Name    `xml:"Error"`
	Type               string      `xml:"Type,omitempty"`
	Code               string      `xml:"Code"`
	Message            string      `xml:"Message,omitempty"`
	ClusterName        string      `xml:"ClusterName,omitempty"`
	NodegroupName      string      `xml:"NodegroupName,omitempty"`
	FargateProfileName string      `xml:"FargateProfileName,omitempty"`
	AddonName          string      `xml:"AddonName,omitempty"`
	SubscriptionID     string      `xml:"SubscriptionId,omitempty"`
	ValidZones         *xmlMembers `xml:"ValidZones"`
}

// xmlMembers is an AWS query list: <member>…</member>….
type xmlMembers struct {
	Members []string `xml:"member"`
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Error     xmlError
	RequestID string `xml:"RequestId,omitempty"`
}

// ErrorToXML returns err in the awsQuery XML error form, with requestID in
// <RequestId> when not empty. Errors are converted as ErrorToJSON converts
// them; members use the XML names of this package (ClusterName, ...).
func ErrorToXML(err error, requestID string) []byte {
	var x xmlError
	var u *UnknownError
	if errors.As(err, &u) {
		x = xmlError{Type: faultType(u.ErrorFault()), Code: u.Code, Message: u.Message}
	} else {
		e := AsError(err)
		x = xmlError{
			Type: faultType(e.ErrorFault()), Code: e.Code, Message: e.Message,
			ClusterName: e.ClusterName, NodegroupName: e.NodegroupName,
			FargateProfileName: e.FargateProfileName, AddonName: e.AddonName,
			SubscriptionID: e.SubscriptionID,
		}
		if e.ValidZones != nil {
			x.ValidZones = &xmlMembers{e.ValidZones}
		}
	}
	b, _ := xml.Marshal(xmlErrorResponse{Error: x, RequestID: requestID}) // only strings
	return append([]byte(xml.Header), b...)
}

func faultType(f smithy.ErrorFault) string {
	if f == smithy.FaultServer {
		return "Receiver"
	}
	return "Sender"
}

// ErrorFromXML decodes an XML error document: <ErrorResponse><Error>… (the
// awsQuery form), <Response><Errors><Error>… or a bare <Error>…. Like the
// SDK's awsQuery protocol it reads the first <Error> element anywhere in the
// document (any letter case), with its <Code> ("UnknownError" when absent)
// and <Message>. A modeled code gives an *Error with the shape's modeled
// status and its members (matched by name, ignoring letter case); any other
// code gives an *UnknownError whose Status is 0. A document that is not XML
// up to the end of that element, or has no <Error> element, gives a
// *smithy.DeserializationError.
func ErrorFromXML(body []byte) error {
	x, err := extractXMLError(body)
	if err != nil {
		return &smithy.DeserializationError{
			Err:      fmt.Errorf("failed to decode response body, %w", err),
			Snapshot: snapshot(body),
		}
	}
	code := codeUnknown
	if x.Code != "" {
		code = x.Code
	}
	shape, ok := modeledShapes[code]
	if !ok {
		return &UnknownError{Code: code, Message: x.Message}
	}
	e := NewError(code, x.Message)
	for key, v := range x.members {
		if dst := e.stringMember(key, shape.members); dst != nil {
			*dst = v
		}
	}
	if shape.members&mValidZones != 0 {
		e.ValidZones = x.validZones
	}
	return e
}

// decodedXMLError is the content of an <Error> element.
type decodedXMLError struct {
	Code, Message string
	members       map[string]string // JSON member name of a shape member → text
	validZones    []string
}

// extractXMLError finds the first <Error> element and reads its children.
// A document without one is an error (io.EOF), as in the SDK.
func extractXMLError(body []byte) (decodedXMLError, error) {
	var x decodedXMLError
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return x, err
		}
		if start, ok := tok.(xml.StartElement); ok && strings.EqualFold(start.Name.Local, "Error") {
			return x, x.read(dec)
		}
	}
}

// read reads the children of an <Error> element up to its end.
func (x *decodedXMLError) read(dec *xml.Decoder) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if strings.EqualFold(t.Name.Local, "ValidZones") {
				var zones xmlMembers
				if err := dec.DecodeElement(&zones, &t); err != nil {
					return err
				}
				x.validZones = zones.Members
				if x.validZones == nil {
					x.validZones = []string{}
				}
				continue
			}
			var text string
			if err := dec.DecodeElement(&text, &t); err != nil {
				return err
			}
			switch t.Name.Local {
			case "Code":
				x.Code = text
			case "Message":
				x.Message = text
			default:
				if x.members == nil {
					x.members = make(map[string]string)
				}
				x.members[jsonMemberName(t.Name.Local)] = text
			}
		}
	}
}

// jsonMemberName maps an XML element name of an error member to its JSON
// member name, ignoring letter case (ClusterName, clusterName → clusterName).
func jsonMemberName(local string) string {
	for _, name := range []string{"clusterName", "nodegroupName", "fargateProfileName", "addonName", "subscriptionId"} {
		if strings.EqualFold(local, name) {
			return name
		}
	}
	return ""
}
