package app

import (
	"fmt"
	"os"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeDynamic builds a dynamic Kubernetes client from a kubeconfig file,
// or from the in-cluster service account when kubeconfig is empty and
// Vigil runs in a pod. It returns nil and no error when neither applies:
// the callers (the act stage, the KEDA scaler's replica reader) then run
// without a cluster. what names the caller in errors.
func kubeDynamic(what, kubeconfig string) (dynamic.Interface, error) {
	var rc *rest.Config
	var err error
	switch {
	case kubeconfig != "":
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("%s: kubeconfig %s: %w", what, kubeconfig, err)
		}
	case os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("KUBERNETES_SERVICE_PORT") != "":
		rc, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("%s: in-cluster config: %w", what, err)
		}
	default:
		return nil, nil
	}
	client, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: kube client: %w", what, err)
	}
	return client, nil
}
