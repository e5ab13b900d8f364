package eksapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/podid/podid/eksapi"
)

func exampleAssociation() *eksapi.PodIdentityAssociation {
	at := time.Date(2025, 5, 25, 0, 40, 13, 961_000_000, time.UTC)
	return &eksapi.PodIdentityAssociation{
		ClusterName:        "c1",
		Namespace:          "default",
		ServiceAccount:     "app",
		RoleArn:            "arn:aws:iam::111122223333:role/app",
		AssociationArn:     "arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-8mvwvh57cu74mgcst",
		AssociationId:      "a-8mvwvh57cu74mgcst",
		Tags:               map[string]string{"team": "a"},
		CreatedAt:          new(eksapi.NewTime(at)),
		ModifiedAt:         new(eksapi.NewTime(at)),
		DisableSessionTags: new(false),
	}
}

// An UpdatePodIdentityAssociation response in its restJson1 wire form, and
// parsed back.
func ExampleNewUpdatePodIdentityAssociationOutput() {
	out := eksapi.NewUpdatePodIdentityAssociationOutput(exampleAssociation())
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	parsed, err := eksapi.ParseUpdatePodIdentityAssociationOutput(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(parsed.Association.AssociationId, parsed.Association.ModifiedAt.Format(time.RFC3339Nano))
	// Output:
	// {"association":{"clusterName":"c1","namespace":"default","serviceAccount":"app","roleArn":"arn:aws:iam::111122223333:role/app","associationArn":"arn:aws:eks:us-east-1:111122223333:podidentityassociation/c1/a-8mvwvh57cu74mgcst","associationId":"a-8mvwvh57cu74mgcst","tags":{"team":"a"},"createdAt":1748133613.961,"modifiedAt":1748133613.961,"disableSessionTags":false}}
	// a-8mvwvh57cu74mgcst 2025-05-25T00:40:13.961Z
}

// The same response as an XML document.
func ExampleMarshalResponseXML() {
	a := exampleAssociation()
	a.Tags, a.ModifiedAt, a.AssociationArn = nil, nil, ""
	b, err := eksapi.MarshalResponseXML(eksapi.OpUpdatePodIdentityAssociation, eksapi.NewAssociationOutput(a))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	back, err := eksapi.ParseUpdatePodIdentityAssociationOutputXML(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(back.Association.CreatedAt.Equal(a.CreatedAt.Time))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <UpdatePodIdentityAssociationResponse xmlns="https://eks.amazonaws.com/doc/2017-11-01/"><UpdatePodIdentityAssociationResult><Association><ClusterName>c1</ClusterName><Namespace>default</Namespace><ServiceAccount>app</ServiceAccount><RoleArn>arn:aws:iam::111122223333:role/app</RoleArn><AssociationId>a-8mvwvh57cu74mgcst</AssociationId><CreatedAt>2025-05-25T00:40:13.961Z</CreatedAt><DisableSessionTags>false</DisableSessionTags></Association></UpdatePodIdentityAssociationResult></UpdatePodIdentityAssociationResponse>
	// true
}

// The AWS query form of the response.
func ExampleAssociationOutput_ToQuery() {
	q := eksapi.NewAssociationOutput(exampleAssociation()).ToQuery()
	fmt.Println(q.Get("Association.ClusterName"))
	fmt.Println(q.Get("Association.Tags.entry.1.key"), q.Get("Association.Tags.entry.1.value"))
	fmt.Println(q.Get("Association.DisableSessionTags"), q.Get("Association.CreatedAt"))
	// Output:
	// c1
	// team a
	// false 2025-05-25T00:40:13.961Z
}

// The generic value form: the JSON tree of the wire form.
func ExampleAssociationOutput_ToValue() {
	v := eksapi.NewAssociationOutput(exampleAssociation()).ToValue()
	a := v["association"].(map[string]any)
	fmt.Println(a["namespace"], a["tags"], a["createdAt"], a["disableSessionTags"])
	// Output:
	// default map[team:a] 1.748133613961e+09 false
}

// A server writes an *eksapi.Error; a client decodes the response into the
// same typed error.
func ExampleErrorFromJSON() {
	rec := httptest.NewRecorder()
	eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: c9.").WithCluster("c9").WriteJSON(rec)
	fmt.Println(rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body.String())

	err := eksapi.ErrorFromJSON(rec.Code, rec.Header(), rec.Body.Bytes())
	var e *eksapi.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.ClusterName, e.Fault())
	}

	// Codes no EKS shape models decode to an *UnknownError.
	err = eksapi.ErrorFromJSON(http.StatusNotFound, http.Header{"X-Amzn-Errortype": {"UnknownOperationException:http://x/"}},
		[]byte(`{"message":"Unknown operation"}`))
	var u *eksapi.UnknownError
	if errors.As(err, &u) {
		fmt.Printf("%s %q\n", u.Code, u.Message)
	}
	// Output:
	// 404 ResourceNotFoundException {"__type":"ResourceNotFoundException","message":"No cluster found for name: c9.","clusterName":"c9"}
	// ResourceNotFoundException c9 client
	// UnknownOperationException "Unknown operation"
}

// XML error documents, as the AWS query protocols send them.
func ExampleErrorFromXML() {
	doc := eksapi.ErrorToXML(eksapi.NewError(eksapi.CodeInvalidParameter, "bad role"), "req-1")
	fmt.Println(string(doc))
	fmt.Println(eksapi.ErrorFromXML(doc))
	fmt.Println(eksapi.ErrorFromXML([]byte(`<Error><Code>Teapot</Code></Error>`)))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterException</Code><Message>bad role</Message></Error><RequestId>req-1</RequestId></ErrorResponse>
	// InvalidParameterException: bad role
	// Teapot
}

// A cluster keeps the members it does not model in Extra and writes them back.
func ExampleCluster_MarshalJSON() {
	var c eksapi.Cluster
	if err := json.Unmarshal([]byte(`{"name":"c1","resourcesVpcConfig":{"subnetIds":["subnet-1"]}}`), &c); err != nil {
		panic(err)
	}
	fmt.Println(c.Name, string(c.Extra))
	c.Status = "ACTIVE"
	b, _ := json.Marshal(c)
	fmt.Println(string(b))
	// Output:
	// c1 {"resourcesVpcConfig":{"subnetIds":["subnet-1"]}}
	// {"name":"c1","status":"ACTIVE","tags":null,"resourcesVpcConfig":{"subnetIds":["subnet-1"]}}
}
