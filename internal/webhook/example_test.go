package webhook_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/podid/podid/internal/webhook"
)

func ExampleMutation_Patch() {
	m := webhook.Mutation{FullURI: webhook.FullURIIPv4, Region: "eu-west-1"}
	p := &corev1.Pod{Spec: corev1.PodSpec{
		ServiceAccountName: "app",
		Containers:         []corev1.Container{{Name: "app", Image: "busybox"}},
	}}
	ops, skip := m.Patch(p)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path)
	}
	fmt.Printf("skip: %q\n", skip)

	p.Spec.HostNetwork = true
	_, skip = m.Patch(p)
	fmt.Printf("host network: %q\n", skip)
	// Output:
	// add /metadata/labels
	// add /spec/volumes
	// add /spec/containers/0/env
	// add /spec/containers/0/volumeMounts
	// skip: ""
	// host network: "host_network"
}
