{{/* Names and labels. */}}
{{- define "transmute.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "transmute.serviceName" -}}
{{- printf "%s-%s" (include "transmute.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "transmute.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/part-of: transmute
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service; call with dict "root" $ "name" $name. */}}
{{- define "transmute.selectorLabels" -}}
app.kubernetes.io/name: transmute-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "transmute.serviceLabels" -}}
{{ include "transmute.labels" .root }}
{{ include "transmute.selectorLabels" . }}
app.kubernetes.io/component: {{ .svc.kind }}
{{- end -}}

{{/* A service's image: services.<name>.image when set (skaffold sets it), else
     <registry>/<prefix><name>:<tag>. */}}
{{- define "transmute.image" -}}
{{- if .svc.image -}}
{{- .svc.image -}}
{{- else -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s%s" $img.prefix .name -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* The object-store role of a service kind: gateway, jobs or converters. */}}
{{- define "transmute.objectStoreRole" -}}
{{- ternary "converters" . (eq . "converter") -}}
{{- end -}}

{{/* The Secret holding a role's object-store keys; call with dict "root" $ "role" $role. */}}
{{- define "transmute.objectStoreSecret" -}}
{{- $creds := index .root.Values.objectStore.credentials .role -}}
{{- default (printf "%s-object-store-%s" (include "transmute.fullname" .root) .role) $creds.existingSecret -}}
{{- end -}}

{{- define "transmute.jobStoreSecret" -}}
{{- default (printf "%s-job-store" (include "transmute.fullname" .)) .Values.jobStore.existingSecret -}}
{{- end -}}

{{/* Addresses of the converters, as the gateway's TRANSMUTE_CONVERTERS JSON. */}}
{{- define "transmute.converters" -}}
{{- $root := . -}}
{{- $out := dict -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.enabled (eq $svc.kind "converter") -}}
{{- $_ := set $out $name (printf "%s:%v" (include "transmute.serviceName" (dict "root" $root "name" $name)) $svc.ports.grpc) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The name of the jobs service entry. */}}
{{- define "transmute.jobsAddress" -}}
{{- $root := . -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.enabled (eq $svc.kind "jobs") -}}
{{- printf "%s:%v" (include "transmute.serviceName" (dict "root" $root "name" $name)) $svc.ports.grpc -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* NATS monitoring endpoint for KEDA's JetStream scaler. KEDA's operator runs in its own
     namespace, so a short service name ("transmute-nats:8222") is qualified with this
     release's namespace; a name with a dot is used as given. */}}
{{- define "transmute.natsMonitoringEndpoint" -}}
{{- $endpoint := .Values.nats.monitoringEndpoint | default (printf "%s-nats:8222" .Release.Name) -}}
{{- $host := first (splitList ":" $endpoint) -}}
{{- $port := last (splitList ":" $endpoint) -}}
{{- if contains "." $host -}}
{{- $endpoint -}}
{{- else -}}
{{- printf "%s.%s.svc.cluster.local:%s" $host .Release.Namespace $port -}}
{{- end -}}
{{- end -}}

{{- define "transmute.authSecret" -}}
{{- default (printf "%s-auth" (include "transmute.fullname" .)) .Values.auth.existingSecret -}}
{{- end }}
