{{/*
Names are fixed, not derived from the release: the CLI discovers Service kdbg-controller, the
controller finds agents by app.kubernetes.io/name=kdbg-agent, and certificates carry these names.
*/}}

{{- define "kdbg.labels" -}}
app.kubernetes.io/part-of: kdbg
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
{{- end }}

{{- define "kdbg.agent.selectorLabels" -}}
app.kubernetes.io/name: kdbg-agent
app.kubernetes.io/component: agent
{{- end }}

{{- define "kdbg.controller.selectorLabels" -}}
app.kubernetes.io/name: kdbg-controller
app.kubernetes.io/component: controller
{{- end }}

{{/* image reference: (dict "image" .Values.images.agent "root" $) */}}
{{- define "kdbg.image" -}}
{{- $repo := required "images.*.repository is required" .image.repository -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .image.tag) -}}
{{- end }}

{{/* Label values are strings: `--set ...=true` gives a bool, which the API would refuse. */}}
{{- define "kdbg.nodeSelector" -}}
{{- $out := dict -}}
{{- range $k, $v := . }}{{ $_ := set $out $k (toString $v) }}{{ end -}}
{{- $_ := set $out "kubernetes.io/os" "linux" -}}
{{- toYaml $out -}}
{{- end }}

{{/*
The policy file, one place for its keys. They are the keys controller/policy.h parses (it refuses
unknown ones): protectedNamespaces, defaultLease, maxLease, maxSessionsPerUser, maxSessions,
allowedScriptCommands, attach.
*/}}
{{- define "kdbg.policy" -}}
{{- with .Values.policy -}}
protectedNamespaces:
{{- toYaml (required "policy.protectedNamespaces is required" .protectedNamespaces) | nindent 2 }}
defaultLease: {{ required "policy.defaultLease is required" .defaultLease | quote }}
maxLease: {{ required "policy.maxLease is required" .maxLease | quote }}
maxSessionsPerUser: {{ int .maxSessionsPerUser }}
maxSessions: {{ int .maxSessions }}
maxPodsPerSession: {{ int (required "policy.maxPodsPerSession is required" .maxPodsPerSession) }}
allowedScriptCommands:
{{- toYaml (required "policy.allowedCommands is required" .allowedCommands) | nindent 2 }}
attach: {{ required "policy.attach is required (allowed, rbac or denied)" .attach | quote }}
{{- end }}
{{- end }}
