// kdbg-chart-render: renders charts/kdbg the way `helm template` does, for tests on machines without
// Helm, and turns multi-document YAML into JSON for the schema validator.
//
//	kdbg-chart-render template --chart DIR [--values FILE]... [--set a.b=v]... [--name NAME]
//	                           [--namespace NS] [--release-service S] [--show-only templates/F]
//	kdbg-chart-render tojson FILE...      JSON array of {"source", "doc", "object"} (empty docs dropped)
//	kdbg-chart-render discovery-stub URL-FILE   API discovery for kubectl's client dry-run (discovery.go)
//
// Helm behaviour reproduced (Helm 3, pkg/engine and pkg/releaseutil): Go text/template with sprig's
// function map (less env/expandenv) plus include, tpl, required, toYaml, fromYaml, toJson, fromJson,
// lookup (always empty, as in `helm template`); missingkey=zero with "<no value>" removed; values
// read with sigs.k8s.io/yaml (numbers become float64, as in Helm) and merged over values.yaml;
// --set with Helm's strvals typing for scalars and {a,b} lists; files named _* are helpers only,
// NOTES.txt is not a manifest; each manifest is split on "---" and sorted by Helm's InstallOrder.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type chartMeta struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	AppVersion  string   `json:"appVersion"`
	Description string   `json:"description"`
	APIVersion  string   `json:"apiVersion"`
	Type        string   `json:"type"`
	KubeVersion string   `json:"kubeVersion"`
	Keywords    []string `json:"keywords"`
	Home        string   `json:"home"`
}

type release struct {
	Name, Namespace, Service string
	IsInstall, IsUpgrade     bool
	Revision                 int
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail("usage: kdbg-chart-render template|tojson|discovery-stub ...")
	}
	var err error
	switch os.Args[1] {
	case "template":
		err = cmdTemplate(os.Args[2:])
	case "tojson":
		err = cmdToJSON(os.Args[2:])
	case "discovery-stub":
		err = cmdDiscoveryStub(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want template or tojson)", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "kdbg-chart-render: "+msg)
	os.Exit(1)
}

func cmdTemplate(args []string) error {
	var chartDir, name, ns, service, showOnly string = "", "kdbg", "kdbg-system", "Helm", ""
	var valueFiles, sets multiFlag
	for i := 0; i < len(args); i++ {
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", args[i])
			}
			i++
			return args[i], nil
		}
		var v string
		var err error
		switch args[i] {
		case "--chart", "--values", "-f", "--set", "--name", "--namespace", "-n", "--release-service", "--show-only", "-s":
			if v, err = next(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown flag %q", args[i])
		}
		switch args[i-1] {
		case "--chart":
			chartDir = v
		case "--values", "-f":
			valueFiles = append(valueFiles, v)
		case "--set":
			sets = append(sets, v)
		case "--name":
			name = v
		case "--namespace", "-n":
			ns = v
		case "--release-service":
			service = v
		case "--show-only", "-s":
			showOnly = v
		}
	}
	if chartDir == "" {
		return errors.New("--chart DIR is required")
	}
	out, err := render(chartDir, valueFiles, sets, release{Name: name, Namespace: ns, Service: service, IsInstall: true, Revision: 1}, showOnly)
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(out)
	return err
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// mergeValues: maps merge key by key, anything else in src replaces dst (Helm's coalescing, less
// its null-deletes-key rule, which the tests do not use).
func mergeValues(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		if sm, ok := sv.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}

var intRe = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)

func typedScalar(s string) interface{} {
	switch {
	case s == "true":
		return true
	case s == "false":
		return false
	case s == "null":
		return nil
	case intRe.MatchString(s):
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
		var list []interface{}
		for _, p := range strings.Split(s[1:len(s)-1], ",") {
			if p != "" {
				list = append(list, typedScalar(p))
			}
		}
		return list
	}
	return s
}

// applySet handles `a.b\.c.d=value` (backslash escapes a dot inside a key).
func applySet(vals map[string]interface{}, expr string) error {
	eq := strings.Index(expr, "=")
	if eq <= 0 {
		return fmt.Errorf("--set %q: want key=value", expr)
	}
	var keys []string
	var cur strings.Builder
	key := expr[:eq]
	for i := 0; i < len(key); i++ {
		if key[i] == '\\' && i+1 < len(key) {
			cur.WriteByte(key[i+1])
			i++
		} else if key[i] == '.' {
			keys = append(keys, cur.String())
			cur.Reset()
		} else {
			cur.WriteByte(key[i])
		}
	}
	keys = append(keys, cur.String())
	m := vals
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = typedScalar(expr[eq+1:])
	return nil
}

// Helm's releaseutil.InstallOrder.
var installOrder = []string{"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap",
	"StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding",
	"RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService"}

type manifest struct {
	source, kind, content string
}

var kindRe = regexp.MustCompile(`(?m)^kind:\s*(\S+)`)
var sepRe = regexp.MustCompile(`(?m)^---\s*$`)

func render(chartDir string, valueFiles, sets []string, rel release, showOnly string) (string, error) {
	var meta chartMeta
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	if err := yaml.UnmarshalStrict(data, &meta); err != nil {
		return "", fmt.Errorf("Chart.yaml: %v", err)
	}
	vals, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		over, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		vals = mergeValues(vals, over)
	}
	for _, s := range sets {
		if err := applySet(vals, s); err != nil {
			return "", err
		}
	}

	root := template.New("gotpl")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includedDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includedDepth++
		defer func() { includedDepth-- }()
		if includedDepth > 1000 {
			return "", fmt.Errorf("include %q: too deeply nested", name)
		}
		var b strings.Builder
		err := root.ExecuteTemplate(&b, name, data)
		return b.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		err = t.Execute(&b, data)
		return strings.ReplaceAll(b.String(), "<no value>", ""), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["toYaml"] = func(v interface{}) string {
		out, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(out), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["toJson"] = func(v interface{}) string {
		out, _ := json.Marshal(v)
		return string(out)
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs).Option("missingkey=zero")

	tdir := filepath.Join(chartDir, "templates")
	var files []string
	err = filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	names := map[string]string{}
	for _, f := range files {
		rel, _ := filepath.Rel(chartDir, f)
		name := meta.Name + "/" + filepath.ToSlash(rel)
		text, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return "", err
		}
		names[name] = filepath.ToSlash(rel)
	}
	top := map[string]interface{}{
		"Values":       vals,
		"Release":      rel,
		"Chart":        meta,
		"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.32.0", "Major": "1", "Minor": "32"}},
	}
	var manifests []manifest
	for _, f := range files {
		rel, _ := filepath.Rel(chartDir, f)
		rel = filepath.ToSlash(rel)
		base := filepath.Base(f)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		if showOnly != "" && showOnly != rel {
			continue
		}
		name := meta.Name + "/" + rel
		vars := map[string]interface{}{}
		for k, v := range top {
			vars[k] = v
		}
		vars["Template"] = map[string]interface{}{"Name": name, "BasePath": meta.Name + "/templates"}
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, name, vars); err != nil {
			return "", err
		}
		out := strings.ReplaceAll(b.String(), "<no value>", "")
		for _, doc := range sepRe.Split(out, -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			kind := ""
			if m := kindRe.FindStringSubmatch(doc); m != nil {
				kind = m[1]
			}
			manifests = append(manifests, manifest{source: name, kind: kind, content: strings.TrimSpace(doc)})
		}
	}
	if showOnly != "" && len(manifests) == 0 {
		return "", fmt.Errorf("--show-only %s: no manifest rendered from that template", showOnly)
	}
	rank := func(kind string) int {
		for i, k := range installOrder {
			if k == kind {
				return i
			}
		}
		return len(installOrder)
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		ri, rj := rank(manifests[i].kind), rank(manifests[j].kind)
		if ri != rj {
			return ri < rj
		}
		if ri == len(installOrder) {
			return manifests[i].kind < manifests[j].kind
		}
		return false
	})
	var buf bytes.Buffer
	for _, m := range manifests {
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	return buf.String(), nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

type entry struct {
	Source string      `json:"source"`
	Doc    int         `json:"doc"`
	Object interface{} `json:"object"`
	// ConfigMap data keys ending in .yaml, parsed (so the checks can read the controller's policy).
	Embedded map[string]interface{} `json:"embedded,omitempty"`
}

// cmdToJSON splits each file on lines that are exactly "---" (as kubectl's YAML reader does) and
// converts every non-empty document with sigs.k8s.io/yaml, the converter kubectl uses; duplicate
// keys and malformed YAML are errors.
func cmdToJSON(files []string) error {
	entries := []entry{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for i, doc := range sepRe.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			j, err := yaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				return fmt.Errorf("%s: document %d: %v", f, i, err)
			}
			var obj interface{}
			if err := json.Unmarshal(j, &obj); err != nil {
				return fmt.Errorf("%s: document %d: %v", f, i, err)
			}
			e := entry{Source: f, Doc: i, Object: obj}
			if m, ok := obj.(map[string]interface{}); ok && m["kind"] == "ConfigMap" {
				data, _ := m["data"].(map[string]interface{})
				for k, v := range data {
					text, ok := v.(string)
					if !ok || !strings.HasSuffix(k, ".yaml") {
						continue
					}
					var parsed interface{}
					if err := yaml.UnmarshalStrict([]byte(text), &parsed); err != nil {
						return fmt.Errorf("%s: document %d: data.%s: %v", f, i, k, err)
					}
					if e.Embedded == nil {
						e.Embedded = map[string]interface{}{}
					}
					e.Embedded[k] = parsed
				}
			}
			entries = append(entries, e)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(entries)
}
