{{/*
Invalid combinations of values that a JSON schema cannot express. Each message names the keys
to change. Included once by validate.yaml, so `helm template`/`install`/`lint` all stop early.
*/}}
{{- define "orderflow.validate" -}}
{{- $v := .Values -}}
{{- $s := $v.executor.strategy -}}
{{- if and $v.executor.enabled (eq $s.mode "live") (not $v.credentials.existingSecret) -}}
{{- fail "executor.strategy.mode=live needs credentials.existingSecret: the name of a Secret with POLY_PRIVATE_KEY (and POLY_FUNDER, POLY_SIGNATURE_TYPE, POLY_API_KEY, POLY_API_SECRET, POLY_API_PASSPHRASE). Use mode=paper to trade without credentials." -}}
{{- end -}}
{{- if and $v.postgresql.enabled $v.secrets.existingSecret -}}
{{- fail (printf "postgresql.enabled=true and secrets.existingSecret=%q both set DATABASE_URL: set secrets.existingSecret=\"\" to use the dev database (the chart then creates the Secret), or postgresql.enabled=false to use the existing Secret." $v.secrets.existingSecret) -}}
{{- end -}}
{{- if and $v.postgresql.enabled $v.secrets.databaseUrl -}}
{{- fail "postgresql.enabled=true and secrets.databaseUrl both set DATABASE_URL: leave secrets.databaseUrl empty to use the dev database, or set postgresql.enabled=false." -}}
{{- end -}}
{{- if and $v.postgresql.enabled (not $v.postgresql.auth.password) -}}
{{- fail "postgresql.enabled=true needs postgresql.auth.password (the dev database's password)." -}}
{{- end -}}
{{- if not $v.secrets.existingSecret -}}
{{- if and (not $v.postgresql.enabled) (not $v.secrets.databaseUrl) -}}
{{- fail "no database configured: set secrets.existingSecret (a Secret with DATABASE_URL), or secrets.databaseUrl, or postgresql.enabled=true for a dev database." -}}
{{- end -}}
{{- if and $v.listener.enabled (not $v.secrets.polygonRpcUrl) -}}
{{- fail "listener.enabled=true needs a Polygon node: set secrets.polygonRpcUrl (wss://...) or secrets.existingSecret (a Secret with POLYGON_RPC_URL), or listener.enabled=false." -}}
{{- end -}}
{{- end -}}
{{- if ge (float64 $s.maxFadeScore) (float64 $s.minWhaleScore) -}}
{{- fail (printf "executor.strategy.maxFadeScore (%v) must be below executor.strategy.minWhaleScore (%v)." $s.maxFadeScore $s.minWhaleScore) -}}
{{- end -}}
{{- if gt (float64 $s.maxPositionUsd) (float64 $s.bankrollUsd) -}}
{{- fail (printf "executor.strategy.maxPositionUsd (%v) exceeds executor.strategy.bankrollUsd (%v)." $s.maxPositionUsd $s.bankrollUsd) -}}
{{- end -}}
{{- if and $v.exampleStrategy.enabled (not $v.operator.enabled) -}}
{{- fail "exampleStrategy.enabled=true needs operator.enabled=true: nothing would reconcile the TradingStrategy." -}}
{{- end -}}
{{- if and $v.operator.excludeNamespaces (not $v.operator.watchAllNamespaces) -}}
{{- fail "operator.excludeNamespaces needs operator.watchAllNamespaces=true: a namespace-scoped operator watches only the release namespace." -}}
{{- end -}}
{{- if and $v.operator.excludeNamespaces $v.operator.peering.enabled -}}
{{- fail "operator.excludeNamespaces cannot be combined with operator.peering.enabled: with a namespace pattern kopf peers per namespace (a KopfPeering in each), and the chart creates one ClusterKopfPeering." -}}
{{- end -}}
{{- if and $v.operator.enabled (gt (int $v.operator.replicas) 1) (not $v.operator.peering.enabled) -}}
{{- fail (printf "operator.replicas=%v needs operator.peering.enabled=true: without peering every replica would reconcile every TradingStrategy." $v.operator.replicas) -}}
{{- end -}}
{{- /* extraEnv is plain text (config.extraEnv in a ConfigMap, the others in the pod spec, all in
the release record) and overrides what the chart sets: no secret, not the live switch, not the
health port (config.healthPort), not the reorg window (config.reorgWindowBlocks, one value for
the listener and the executor) and not the embedded database's directory. Names are compared
upper-cased: the settings read them in any case (pydantic-settings), so `poly_private_key` is
the signing key too. */ -}}
{{- $secretEnv := concat (include "orderflow.credentialKeys" . | fromJsonArray) (list "DATABASE_URL" "POLYGON_RPC_URL" "POLYGON_HTTP_URL" "OTEL_EXPORTER_OTLP_HEADERS") -}}
{{- range $component := list "config" "listener" "executor" "reputation" "operator" -}}
{{- range $name, $_ := (index $v $component).extraEnv -}}
{{- $upper := upper $name -}}
{{- if eq $upper "ENABLE_PAPER_TRADING" -}}
{{- fail (printf "%s.extraEnv.%s: set executor.strategy.mode (paper or live) instead; live needs credentials.existingSecret, which an extraEnv override would skip." $component $name) -}}
{{- end -}}
{{- if has $upper $secretEnv -}}
{{- fail (printf "%s.extraEnv.%s: a secret, and extraEnv is stored in plain text (a ConfigMap or the pod spec, and the Helm release record): put it in its Secret (secrets.existingSecret, credentials.existingSecret or otel.headersSecret), which the chart references." $component $name) -}}
{{- end -}}
{{- if eq $upper "HEALTH_PORT" -}}
{{- fail (printf "%s.extraEnv.%s: set config.healthPort instead: the container port, the probes and the metrics Services follow it, and a HEALTH_PORT of its own moved the server away from them (the liveness probe then restarted the pod forever)." $component $name) -}}
{{- end -}}
{{- if eq $upper "REORG_WINDOW_BLOCKS" -}}
{{- fail (printf "%s.extraEnv.%s: set config.reorgWindowBlocks instead: the listener and the executor take the one value (a window of one's own had the executor redeem a resolution the listener could still roll back)." $component $name) -}}
{{- end -}}
{{- if has $upper (list "ORDERFLOW_DATA_DIR" "ORDERFLOW_EMBEDDED_DATABASE") -}}
{{- fail (printf "%s.extraEnv.%s: the directory a process without DATABASE_URL starts a PostgreSQL of its own in; in the cluster every pod uses the DATABASE_URL of its Secret, and none may fall back to a private database (no directory is writable for one)." $component $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $v.otel.headersSecret (not $v.otel.endpoint) -}}
{{- fail "otel.headersSecret is set but otel.endpoint is empty: set otel.endpoint (the collector's OTLP/HTTP URL, e.g. http://otel-collector:4318) or leave otel.headersSecret empty." -}}
{{- end -}}
{{- if and $v.metrics.serviceMonitor.enabled (not $v.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled=true needs metrics.service.enabled=true (the ServiceMonitor scrapes those Services)." -}}
{{- end -}}
{{- end -}}
