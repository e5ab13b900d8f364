package eksapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// XMLNamespace is the namespace of the XML response documents this package
// writes, in the style of the AWS query services.
const XMLNamespace = "https://eks.amazonaws.com/doc/2017-11-01/"

// The XML form follows the AWS query protocols: elements named like the
// query keys (ClusterName), maps as <Tags><entry><key/><value/></entry></Tags>,
// lists as <Associations><member/></Associations>, booleans true/false and
// timestamps ISO 8601 in UTC.

type xmlTagEntry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xmlTags struct {
	Entries []xmlTagEntry `xml:"entry"`
}

func tagsToXML(m map[string]string) *xmlTags {
	if m == nil {
		return nil
	}
	t := &xmlTags{Entries: make([]xmlTagEntry, 0, len(m))}
	for _, k := range sortedKeys(m) {
		t.Entries = append(t.Entries, xmlTagEntry{k, m[k]})
	}
	return t
}

func tagsFromXML(t *xmlTags) map[string]string {
	if t == nil {
		return nil
	}
	m := make(map[string]string, len(t.Entries))
	for _, e := range t.Entries {
		m[e.Key] = e.Value
	}
	return m
}

type xmlAssociation struct {
	ClusterName        string   `xml:"ClusterName,omitempty"`
	Namespace          string   `xml:"Namespace,omitempty"`
	ServiceAccount     string   `xml:"ServiceAccount,omitempty"`
	RoleArn            string   `xml:"RoleArn,omitempty"`
	AssociationArn     string   `xml:"AssociationArn,omitempty"`
	AssociationId      string   `xml:"AssociationId,omitempty"`
	Tags               *xmlTags `xml:"Tags"`
	CreatedAt          string   `xml:"CreatedAt,omitempty"`
	ModifiedAt         string   `xml:"ModifiedAt,omitempty"`
	OwnerArn           string   `xml:"OwnerArn,omitempty"`
	DisableSessionTags *bool    `xml:"DisableSessionTags,omitempty"`
	TargetRoleArn      string   `xml:"TargetRoleArn,omitempty"`
	ExternalId         string   `xml:"ExternalId,omitempty"`
	Policy             string   `xml:"Policy,omitempty"`
}

func timeToXML(t *Time) string {
	if t == nil {
		return ""
	}
	return formatISO(*t)
}

func timeFromXML(name, s string) (*Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseISO(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &t, nil
}

// MarshalXML writes a's members as child elements of start.
func (a PodIdentityAssociation) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(xmlAssociation{
		ClusterName:        a.ClusterName,
		Namespace:          a.Namespace,
		ServiceAccount:     a.ServiceAccount,
		RoleArn:            a.RoleArn,
		AssociationArn:     a.AssociationArn,
		AssociationId:      a.AssociationId,
		Tags:               tagsToXML(a.Tags),
		CreatedAt:          timeToXML(a.CreatedAt),
		ModifiedAt:         timeToXML(a.ModifiedAt),
		OwnerArn:           a.OwnerArn,
		DisableSessionTags: a.DisableSessionTags,
		TargetRoleArn:      a.TargetRoleArn,
		ExternalId:         a.ExternalId,
		Policy:             a.Policy,
	}, start)
}

// UnmarshalXML reads an association element written by MarshalXML.
func (a *PodIdentityAssociation) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlAssociation
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	created, err := timeFromXML("CreatedAt", x.CreatedAt)
	if err != nil {
		return err
	}
	modified, err := timeFromXML("ModifiedAt", x.ModifiedAt)
	if err != nil {
		return err
	}
	*a = PodIdentityAssociation{
		ClusterName:        x.ClusterName,
		Namespace:          x.Namespace,
		ServiceAccount:     x.ServiceAccount,
		RoleArn:            x.RoleArn,
		AssociationArn:     x.AssociationArn,
		AssociationId:      x.AssociationId,
		Tags:               tagsFromXML(x.Tags),
		CreatedAt:          created,
		ModifiedAt:         modified,
		OwnerArn:           x.OwnerArn,
		DisableSessionTags: x.DisableSessionTags,
		TargetRoleArn:      x.TargetRoleArn,
		ExternalId:         x.ExternalId,
		Policy:             x.Policy,
	}
	return nil
}

// xmlSummary has PodIdentityAssociationSummary's fields, so the two convert.
type xmlSummary struct {
	ClusterName    string `xml:"ClusterName,omitempty"`
	Namespace      string `xml:"Namespace,omitempty"`
	ServiceAccount string `xml:"ServiceAccount,omitempty"`
	AssociationArn string `xml:"AssociationArn,omitempty"`
	AssociationId  string `xml:"AssociationId,omitempty"`
	OwnerArn       string `xml:"OwnerArn,omitempty"`
}

// MarshalXML writes s's members as child elements of start.
func (s PodIdentityAssociationSummary) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(xmlSummary(s), start)
}

// UnmarshalXML reads a summary element written by MarshalXML.
func (s *PodIdentityAssociationSummary) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlSummary
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	*s = PodIdentityAssociationSummary(x)
	return nil
}

type xmlAssociationOutput struct {
	Association *PodIdentityAssociation `xml:"Association"`
}

// MarshalXML writes <Association> (when set) as a child of start.
func (o AssociationOutput) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement(xmlAssociationOutput(o), start)
}

// UnmarshalXML reads an element with an optional <Association> child.
func (o *AssociationOutput) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlAssociationOutput
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	*o = AssociationOutput(x)
	return nil
}

type xmlSummaries struct {
	Members []PodIdentityAssociationSummary `xml:"member"`
}

type xmlListOutput struct {
	Associations *xmlSummaries `xml:"Associations"`
	NextToken    string        `xml:"NextToken,omitempty"`
}

// MarshalXML writes <Associations><member>…</member></Associations> and
// <NextToken> (when set) as children of start.
func (o ListPodIdentityAssociationsOutput) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	x := xmlListOutput{NextToken: o.NextToken}
	if o.Associations != nil {
		x.Associations = &xmlSummaries{o.Associations}
	}
	return e.EncodeElement(x, start)
}

// UnmarshalXML reads an element written by MarshalXML. An empty
// <Associations/> gives an empty, non-nil slice.
func (o *ListPodIdentityAssociationsOutput) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x xmlListOutput
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	*o = ListPodIdentityAssociationsOutput{NextToken: x.NextToken}
	if x.Associations != nil {
		o.Associations = x.Associations.Members
		if o.Associations == nil {
			o.Associations = []PodIdentityAssociationSummary{}
		}
	}
	return nil
}

// MarshalResponseXML returns the XML response document of operation op with
// result as its content:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<{op}Response xmlns="https://eks.amazonaws.com/doc/2017-11-01/">
//	  <{op}Result>…result's members…</{op}Result>
//	</{op}Response>
func MarshalResponseXML(op string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{
		Name: xml.Name{Local: op + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: XMLNamespace}},
	}
	if err := enc.EncodeToken(root); err != nil {
		return nil, err
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op + "Result"}}); err != nil {
		return nil, err
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalResponseXML decodes an XML response document into result. When
// the root's first child element is named …Result (any letter case, any
// namespace, as the SDK's query protocols find it), its content is decoded;
// otherwise the root's own content is.
func UnmarshalResponseXML(data []byte, result any) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	rootSeen := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return fmt.Errorf("xml response: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			return fmt.Errorf("xml response: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !rootSeen {
				rootSeen = true
				continue
			}
			if strings.HasSuffix(strings.ToLower(t.Name.Local), "result") {
				return dec.DecodeElement(result, &t)
			}
			return xml.Unmarshal(data, result)
		case xml.EndElement: // the root has no child element
			return xml.Unmarshal(data, result)
		}
	}
}

// ParseUpdatePodIdentityAssociationOutputXML decodes an
// <UpdatePodIdentityAssociationResponse> document (see UnmarshalResponseXML).
func ParseUpdatePodIdentityAssociationOutputXML(data []byte) (*UpdatePodIdentityAssociationOutput, error) {
	o := new(AssociationOutput)
	if err := UnmarshalResponseXML(data, o); err != nil {
		return nil, err
	}
	return o, nil
}
