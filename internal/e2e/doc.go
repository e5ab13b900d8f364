// Package e2e holds podid's end-to-end tests: they build the podid binary,
// start podid serve and podid agent as processes, set clusters and pod
// identity associations up through the AWS SDK's eks client, and run an
// unmodified AWS SDK program (testdata/child) whose default credential
// chain gets a pod's credentials from the agent, as a pod's would. The
// package has no code of its own; internal/proctest starts the processes.
package e2e
