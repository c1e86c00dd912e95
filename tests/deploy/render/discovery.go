package main

// A discovery-only API server for `kubectl apply --dry-run=client`, which cannot run without one:
// kubectl maps each document's apiVersion/kind to a resource through the server's discovery
// (/api, /apis, /api/v1, /apis/GROUP/VERSION) and GETs the live object (404 here: "created").
// It serves the real names, scopes and versions of the kinds kdbg ships, cert-manager's as if its
// CRDs were installed, nothing else; OpenAPI is not served, so kubectl runs with --validate=false
// (the schema validation is validate.mjs's job).
//
//	kdbg-chart-render discovery-stub URL-FILE    listens on 127.0.0.1:0, writes its URL to URL-FILE

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

type apiResource struct {
	group, version, kind, plural string
	namespaced                   bool
}

var discoveryResources = []apiResource{
	{"", "v1", "Namespace", "namespaces", false},
	{"", "v1", "ServiceAccount", "serviceaccounts", true},
	{"", "v1", "ConfigMap", "configmaps", true},
	{"", "v1", "Secret", "secrets", true},
	{"", "v1", "Service", "services", true},
	{"", "v1", "Pod", "pods", true},
	{"apps", "v1", "DaemonSet", "daemonsets", true},
	{"apps", "v1", "Deployment", "deployments", true},
	{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false},
	{"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false},
	{"rbac.authorization.k8s.io", "v1", "Role", "roles", true},
	{"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true},
	{"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true},
	{"cert-manager.io", "v1", "Issuer", "issuers", true},
	{"cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", false},
	{"cert-manager.io", "v1", "Certificate", "certificates", true},
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func resourceList(gv string) map[string]interface{} {
	var list []map[string]interface{}
	for _, r := range discoveryResources {
		if strings.TrimPrefix(r.group+"/"+r.version, "/") != gv {
			continue
		}
		list = append(list, map[string]interface{}{
			"name": r.plural, "singularName": strings.ToLower(r.kind), "namespaced": r.namespaced,
			"kind": r.kind, "verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		})
	}
	return map[string]interface{}{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}
}

func cmdDiscoveryStub(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: discovery-stub URL-FILE")
	}
	groups := map[string]bool{}
	for _, r := range discoveryResources {
		if r.group != "" {
			groups[r.group+"/"+r.version] = true
		}
	}
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		p := strings.TrimSuffix(req.URL.Path, "/")
		switch {
		case p == "/version":
			writeJSON(w, 200, map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
		case p == "/api":
			writeJSON(w, 200, map[string]interface{}{"kind": "APIVersions", "versions": []string{"v1"},
				"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": req.Host}}})
		case p == "/apis":
			var gl []map[string]interface{}
			for _, gv := range names {
				g, v, _ := strings.Cut(gv, "/")
				ver := map[string]string{"groupVersion": gv, "version": v}
				gl = append(gl, map[string]interface{}{"name": g, "versions": []interface{}{ver}, "preferredVersion": ver})
			}
			writeJSON(w, 200, map[string]interface{}{"kind": "APIGroupList", "apiVersion": "v1", "groups": gl})
		case p == "/api/v1":
			writeJSON(w, 200, resourceList("v1"))
		case strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") == 3 && groups[strings.TrimPrefix(p, "/apis/")]:
			writeJSON(w, 200, resourceList(strings.TrimPrefix(p, "/apis/")))
		default:
			writeJSON(w, 404, map[string]interface{}{"kind": "Status", "apiVersion": "v1", "status": "Failure",
				"message": "not found (discovery-only stub)", "reason": "NotFound", "code": 404})
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if err := os.WriteFile(args[0]+".tmp", []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(args[0]+".tmp", args[0]); err != nil {
		return err
	}
	return http.Serve(ln, mux)
}
