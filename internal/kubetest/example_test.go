package kubetest_test

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podid/podid/internal/kubetest"
)

// A test starts a control plane, talks to it with client-go and kubectl,
// and hands its kubeconfig to the program under test.
func ExampleStart() {
	var t *testing.T // the test's
	c := kubetest.Start(t)
	ns, err := c.Clientset.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ns.Name, c.Issuer, c.Kubeconfig)
	out, err := c.Kubectl(context.Background(), "apply", "--dry-run=server", "-k", "deploy/kubernetes/base")
	fmt.Println(out, err)
}
