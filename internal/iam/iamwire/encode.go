package iamwire

import (
	"bytes"
	"encoding/xml"
)

// Marshal returns the XML answer to action:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<ActionResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//	  <ActionResult>...result...</ActionResult>
//	  <ResponseMetadata><RequestId>requestID</RequestId></ResponseMetadata>
//	</ActionResponse>
//
// A nil result (DeleteRole, TagRole, ...) writes no ActionResult element,
// as IAM does. Send it with Content-Type text/xml and HTTP 200.
func Marshal(action, requestID string, result any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	e := xml.NewEncoder(&b)
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}}
	if err := e.EncodeToken(root); err != nil {
		return nil, err
	}
	if result != nil {
		if err := e.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			return nil, err
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{requestID}
	if err := e.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, err
	}
	if err := e.EncodeToken(root.End()); err != nil {
		return nil, err
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
