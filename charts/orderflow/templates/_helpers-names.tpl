{{/*
Names and labels. app.kubernetes.io/* labels are part of the chart's interface from the first
version: selectors are immutable, so never change what orderflow.selectorLabels renders.
*/}}

{{- define "orderflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orderflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: orderflow.componentName (dict "root" $ "component" "listener") */}}
{{- define "orderflow.componentName" -}}
{{- printf "%s-%s" (include "orderflow.fullname" .root | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "orderflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orderflow.labels" -}}
helm.sh/chart: {{ include "orderflow.chart" . }}
app.kubernetes.io/name: {{ include "orderflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: orderflow
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component: orderflow.componentLabels (dict "root" $ "component" "executor") */}}
{{- define "orderflow.componentLabels" -}}
{{ include "orderflow.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Immutable selector labels of one component. */}}
{{- define "orderflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orderflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "orderflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "orderflow.secretName" -}}
{{- default (include "orderflow.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "orderflow.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "orderflow.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* DATABASE_URL of the dev PostgreSQL (password URL-escaped). */}}
{{- define "orderflow.devDatabaseUrl" -}}
{{- $pg := .Values.postgresql -}}
{{- printf "postgresql://%s:%s@%s:5432/%s" ($pg.auth.username | urlquery) ($pg.auth.password | urlquery) (include "orderflow.componentName" (dict "root" . "component" "postgresql")) $pg.auth.database -}}
{{- end -}}

{{/*
A number as an environment value. Helm reads YAML numbers as float64 and prints large whole
ones in exponent form (2500000 -> "2.5e+06"), which integer settings would refuse: whole
numbers are printed as integers, others as they are.
*/}}
{{- define "orderflow.number" -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{- /* The operator's scope as `orderflow operator` (and its uninstall hook) take it, a JSON list:
["--namespace", release namespace], ["-A"], or with operator.excludeNamespaces the kopf pattern
["--namespace", "!a,!b"] (every namespace but those). */ -}}
{{- define "orderflow.operatorScope" -}}
{{- $o := .Values.operator }}
{{- if not $o.watchAllNamespaces }}
{{- list "--namespace" .Release.Namespace | toJson }}
{{- else if $o.excludeNamespaces }}
{{- $not := list }}
{{- range $o.excludeNamespaces }}{{ $not = append $not (printf "!%s" .) }}{{ end }}
{{- list "--namespace" (join "," $not) | toJson }}
{{- else }}
{{- list "-A" | toJson }}
{{- end }}
{{- end -}}
