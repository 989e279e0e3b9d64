{{/*
Pieces every orderflow pod shares: security contexts, writable scratch volumes for a read-only
root filesystem, scheduling, and the environment (ConfigMap + Secret references).
*/}}

{{- define "orderflow.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "orderflow.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
/tmp (HOME, caches) is the only writable path. Not the data directory (ORDERFLOW_DATA_DIR, the
image's /var/lib/orderflow): a process without DATABASE_URL starts an embedded PostgreSQL there,
and in the cluster that is never right. A Secret whose DATABASE_URL is empty made every pod run
on a throwaway database of its own (the migrations hook "succeeded", each executor replica traded
alone on its own); with the directory read-only such a pod stops at once.
*/}}
{{- define "orderflow.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "orderflow.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "orderflow.scheduling" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Replicas of one component on different nodes, where the scheduler can: a hot standby on the
active pod's node dies with it. Soft (ScheduleAnyway), so a one-node cluster still runs them all.
orderflow.spread (dict "root" $ "component" "executor" "replicas" N)
*/}}
{{- define "orderflow.spread" -}}
{{- if and .root.Values.spreadAcrossNodes (gt (int .replicas) 1) }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "orderflow.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{/* Pod metadata: labels and the checksums that roll pods when config or Secret change. */}}
{{- define "orderflow.podMetadata" -}}
{{- $root := .root -}}
labels:
  {{- include "orderflow.componentLabels" . | nindent 2 }}
  {{- with $root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
  {{- if .strategy }}
  checksum/strategy: {{ include (print $root.Template.BasePath "/executor/configmap.yaml") $root | sha256sum }}
  {{- end }}
  {{- if not $root.Values.secrets.existingSecret }}
  checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
  {{- end }}
  {{- with $root.Values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* Non-secret settings: the common ConfigMap, plus the strategy one for the executor. */}}
{{- define "orderflow.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "orderflow.fullname" .root }}
  {{- if .strategy }}
  - configMapRef:
      name: {{ include "orderflow.componentName" (dict "root" .root "component" "strategy") }}
  {{- end }}
{{- end -}}

{{- define "orderflow.env.database" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orderflow.secretName" . }}
      key: DATABASE_URL
{{- end -}}

{{- define "orderflow.env.rpc" -}}
- name: POLYGON_RPC_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orderflow.secretName" . }}
      key: POLYGON_RPC_URL
- name: POLYGON_HTTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "orderflow.secretName" . }}
      key: POLYGON_HTTP_URL
      optional: true
{{- end -}}

{{/* A component's own non-secret variables (<component>.extraEnv), sorted by name. */}}
{{- define "orderflow.env.extra" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/*
The executor's Polymarket credentials, key by key from credentials.existingSecret. The private
key is required (the pod does not start without it); the others are optional because the API
key can be derived from the private key and the funder/signature type have defaults (the relayer's
key, Relayer or Builder, is needed only by a proxy, Safe or deposit wallet's redemptions).
*/}}
{{- define "orderflow.credentialKeys" -}}
{{- list "POLY_PRIVATE_KEY" "POLY_FUNDER" "POLY_SIGNATURE_TYPE" "POLY_API_KEY" "POLY_API_SECRET" "POLY_API_PASSPHRASE" "POLY_RPC_URL" "POLY_RELAYER_API_KEY" "POLY_RELAYER_API_KEY_ADDRESS" "POLY_BUILDER_API_KEY" "POLY_BUILDER_SECRET" "POLY_BUILDER_PASSPHRASE" | toJson -}}
{{- end -}}

{{- define "orderflow.env.credentials" -}}
{{- $secret := .Values.credentials.existingSecret -}}
{{- range $key := include "orderflow.credentialKeys" . | fromJsonArray }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: {{ ne $key "POLY_PRIVATE_KEY" }}
{{- end }}
{{- end -}}

{{/* The named container port every service listens on for health and metrics. */}}
{{- define "orderflow.healthPort" -}}
- name: http
  containerPort: {{ .Values.config.healthPort }}
  protocol: TCP
{{- end -}}

{{/* liveness/readiness/startup probes: (dict "live" "/healthz" "ready" "/readyz") */}}
{{- define "orderflow.probes" -}}
startupProbe:
  httpGet:
    path: {{ .live }}
    port: http
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: {{ .live }}
    port: http
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 4
readinessProbe:
  httpGet:
    path: {{ .ready }}
    port: http
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/*
With the dev database, pods start together with PostgreSQL: an init container waits until it
accepts TCP connections, so services start once instead of crash-looping into long back-offs.
Renders nothing for an external database. Indented for a pod spec.
*/}}
{{- define "orderflow.waitForDatabase" -}}
{{- if .Values.postgresql.enabled }}
initContainers:
  - name: wait-for-database
    image: {{ include "orderflow.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command:
      - python
      - -c
      - |
        import socket, sys, time
        host, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + 600
        while True:
            try:
                socket.create_connection((host, port), timeout=3).close()
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    sys.exit(f"{host}:{port} still unreachable: {exc}")
                print(f"waiting for {host}:{port}: {exc}", flush=True)
                time.sleep(2)
      - {{ include "orderflow.componentName" (dict "root" . "component" "postgresql") | quote }}
      - "5432"
    resources:
      requests:
        cpu: 10m
        memory: 32Mi
      limits:
        memory: 64Mi
    securityContext:
      {{- include "orderflow.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "orderflow.volumeMounts" . | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
OpenTelemetry trace export, the standard OTEL_* variables: (dict "root" . "component" "listener").
Renders nothing while otel.endpoint is empty (no exporter is created, nothing leaves the pod).
The pod's namespace and name join every span's resource (downward API).
*/}}
{{- define "orderflow.env.otel" -}}
{{- $o := .root.Values.otel -}}
{{- if $o.endpoint }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "orderflow-%s" .component | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $o.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
{{- with $o.headersSecret }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $o.headersSecretKey }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $o.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ include "orderflow.number" $o.samplerArg | quote }}
- name: OTEL_K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- $attrs := list "k8s.namespace.name=$(OTEL_K8S_NAMESPACE)" "k8s.pod.name=$(OTEL_K8S_POD_NAME)" }}
{{- range $key, $value := $o.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $key $value) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- end -}}
